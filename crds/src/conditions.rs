//! Status conditions shared by both resources, with the Kubernetes rule that
//! `lastTransitionTime` moves only when a condition's status changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Status of a condition, as Kubernetes spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }

    pub fn from_bool(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}

/// Operations on a status's condition list.
pub trait Conditions {
    /// The condition of `kind`, if present.
    fn condition(&self, kind: &str) -> Option<&Condition>;

    /// Sets a condition, keeping its `lastTransitionTime` unless its status changes. `Ready`
    /// stays first; the other conditions keep the order they were first set in.
    fn set_condition(
        &mut self,
        kind: &str,
        status: ConditionStatus,
        reason: &str,
        message: &str,
        observed_generation: Option<i64>,
        now: Timestamp,
    );

    /// Whether the `Ready` condition is `True`.
    fn is_ready(&self) -> bool {
        self.condition("Ready").is_some_and(|c| c.status == "True")
    }
}

impl Conditions for Vec<Condition> {
    fn condition(&self, kind: &str) -> Option<&Condition> {
        self.iter().find(|c| c.type_ == kind)
    }

    fn set_condition(
        &mut self,
        kind: &str,
        status: ConditionStatus,
        reason: &str,
        message: &str,
        observed_generation: Option<i64>,
        now: Timestamp,
    ) {
        let status = status.as_str();
        let transition = match self.condition(kind) {
            Some(existing) if existing.status == status => existing.last_transition_time.clone(),
            _ => Time(now),
        };
        let condition = Condition {
            type_: kind.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            observed_generation,
            last_transition_time: transition,
        };
        match self.iter_mut().find(|c| c.type_ == kind) {
            Some(slot) => *slot = condition,
            None if kind == "Ready" => self.insert(0, condition),
            None => self.push(condition),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn keeps_transition_time_while_status_is_unchanged() {
        let mut conditions = Vec::new();
        conditions.set_condition(
            "Ready",
            ConditionStatus::False,
            "Pending",
            "a",
            Some(1),
            at(10),
        );
        conditions.set_condition(
            "Ready",
            ConditionStatus::False,
            "Other",
            "b",
            Some(2),
            at(20),
        );

        assert_eq!(conditions[0].last_transition_time, Time(at(10)));
        assert_eq!(conditions[0].reason, "Other");
        assert_eq!(conditions[0].observed_generation, Some(2));
    }

    #[test]
    fn moves_transition_time_when_status_changes() {
        let mut conditions = Vec::new();
        conditions.set_condition("Ready", ConditionStatus::False, "Pending", "", None, at(10));
        conditions.set_condition(
            "Ready",
            ConditionStatus::True,
            "Registered",
            "",
            None,
            at(20),
        );

        assert_eq!(conditions[0].last_transition_time, Time(at(20)));
        assert!(conditions.is_ready());
    }

    #[test]
    fn ready_is_listed_first() {
        let mut conditions = Vec::new();
        conditions.set_condition("Registered", ConditionStatus::True, "Ok", "", None, at(1));
        conditions.set_condition("Ready", ConditionStatus::True, "Ok", "", None, at(1));

        assert_eq!(conditions[0].type_, "Ready");
        assert_eq!(conditions[1].type_, "Registered");
    }
}
