//! Kubernetes Events on the reconciled resources, written only when readiness changes so a
//! steady cluster sees no Event traffic from the operator.

use kube::Resource;
use kube::runtime::events::{Event, EventType};

use crate::context::Context;

/// Records that `object` became Ready, or stopped being Ready for `reason`.
pub async fn publish<K>(context: &Context, object: &K, ready: bool, reason: &str, message: &str)
where
    K: Resource<DynamicType = ()>,
{
    let event = Event {
        type_: if ready {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: reason.to_owned(),
        note: Some(message.chars().take(1024).collect()),
        action: "Reconcile".to_owned(),
        secondary: None,
    };
    if let Err(error) = context
        .recorder
        .publish(&event, &object.object_ref(&()))
        .await
    {
        tracing::warn!(reason, "could not record an Event: {error}");
    }
}
