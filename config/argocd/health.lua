-- Argo CD health of webhooks.flowx.ai WebhookGateway and Webhook resources.
-- The operator sets status.observedGeneration and a Ready condition on both kinds; anything
-- older than the current generation says nothing about the spec Argo CD just synced.
local hs = {}
local generation = obj.metadata ~= nil and obj.metadata.generation or nil
local status = obj.status

if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. tostring(generation)
  return hs
end

local ready = nil
for _, condition in ipairs(status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  end
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

local message = ready.message
if message == nil or message == "" then
  message = ready.reason or ""
elseif ready.reason ~= nil and ready.reason ~= "" then
  message = ready.reason .. ": " .. message
end

if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = message
return hs
