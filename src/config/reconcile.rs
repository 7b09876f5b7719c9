//! `[reconcile]`: how often drift reconciliation compares the targets with Warden's grants.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconcileSettings {
    /// Time between two runs (`15m`, `1h`), or `off`. One instance runs it at a time.
    pub interval: String,
    /// How long one run may hold a resource (a slow target); another run then takes over.
    pub lease: String,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            interval: "15m".into(),
            lease: "5m".into(),
        }
    }
}

impl ReconcileSettings {
    /// The interval in seconds; `None`: reconciliation runs only on demand.
    pub fn interval_secs(&self) -> Option<u64> {
        match self.interval.trim() {
            "off" | "0" => None,
            s => crate::domain::parse_duration(s),
        }
    }

    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let off = matches!(self.interval.trim(), "off" | "0");
        if !off && crate::domain::parse_duration(&self.interval).is_none() {
            p.push(format!(
                "reconcile.interval must be a duration like 15m or 1h, or off (got \"{}\")",
                self.interval
            ));
        }
        if crate::domain::parse_duration(&self.lease).is_none() {
            p.push(format!(
                "reconcile.lease must be a duration like 5m (got \"{}\")",
                self.lease
            ));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_a_duration_or_off_and_anything_else_is_a_problem() {
        let mut s = ReconcileSettings::default();
        assert_eq!(s.interval_secs(), Some(900));
        assert!(s.problems().is_empty());
        s.interval = "off".into();
        assert_eq!(s.interval_secs(), None);
        assert!(s.problems().is_empty());
        s.interval = "soon".into();
        assert_eq!(s.problems().len(), 1, "{:?}", s.problems());
    }
}
