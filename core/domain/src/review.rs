//! The monthly service review: a list of sections (KPIs against targets and the previous
//! month, SLA breaches, the weakest stages, complaint tags) and the improvement points derived
//! from them. Partner scorecards and training compliance come as further sections when those
//! parts of the service system exist.

use super::kpi::{BreachCount, Kpi, KpiStatus, Month, Period, StageDwell, Unit};
use super::time::Timestamp;

/// A KPI of the month beside its value the month before.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiLine {
    pub kpi: Kpi,
    pub previous: Option<f64>,
}

impl KpiLine {
    /// Whether the KPI moved the wrong way at all since the month before (by more than the
    /// rounding of its display): what the review's "what got worse" lists.
    pub fn fell_back(&self) -> bool {
        let (Some(now), Some(before), Some(target)) = (self.kpi.value, self.previous, self.kpi.target) else {
            return false;
        };
        let noise = match self.kpi.unit {
            Unit::Ratio => 0.0005,
            _ => 0.005 * before.abs().max(1e-9),
        };
        match target.better {
            super::kpi::Better::Lower => now - before > noise,
            super::kpi::Better::Higher => before - now > noise,
        }
    }

    /// Whether the KPI moved the wrong way by more than 10 % of the previous value.
    pub fn worsened(&self) -> bool {
        let (Some(now), Some(before), Some(target)) = (self.kpi.value, self.previous, self.kpi.target) else {
            return false;
        };
        let change = now - before;
        let threshold = before.abs() * 0.1;
        match target.better {
            super::kpi::Better::Lower => change > threshold && change > 0.0,
            super::kpi::Better::Higher => -change > threshold && change < 0.0,
        }
    }
}

/// A stage's dwell time against its target.
#[derive(Debug, Clone, PartialEq)]
pub struct WeakStage {
    pub dwell: StageDwell,
    pub target_seconds: Option<f64>,
}

impl WeakStage {
    /// Mean dwell over target (> 1: slower than the target).
    pub fn ratio(&self) -> Option<f64> {
        Some(self.dwell.mean_ms? / 1000.0 / self.target_seconds.filter(|t| *t > 0.0)?)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    Kpis(Vec<KpiLine>),
    /// KPIs with a target that moved the wrong way since the month before, whatever their status.
    Worse(Vec<KpiLine>),
    Breaches(Vec<BreachCount>),
    WeakestStages(Vec<WeakStage>),
    ComplaintTags(Vec<(String, u64)>),
    /// Partners ranked by their built-in scorecard over the month.
    Partners(Vec<PartnerRank>),
    Training(TrainingStanding),
    /// Improvement actions set by earlier reviews and still open when the month began (or
    /// closed since): their status now and their KPI's movement since the month they came from.
    Actions(Vec<super::improvement::FollowUp>),
    Improvements(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRank {
    pub name: String,
    pub score: Option<f64>,
    pub grade: String,
    pub delegated: u64,
}

/// Training compliance at the month's end (or now, for the running month) and at the end of
/// the month before, as it stood then; certifications that expire soon.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingStanding {
    pub compliance: Option<f64>,
    pub previous: Option<f64>,
    pub staff_considered: u64,
    /// (staff name, course code, expiry), soonest first.
    pub expiring: Vec<(String, String, Timestamp)>,
}

impl Section {
    pub fn key(&self) -> &'static str {
        match self {
            Section::Kpis(_) => "kpis",
            Section::Worse(_) => "worse",
            Section::Breaches(_) => "breaches",
            Section::WeakestStages(_) => "weakest_stages",
            Section::ComplaintTags(_) => "complaint_tags",
            Section::Partners(_) => "partners",
            Section::Training(_) => "training",
            Section::Actions(_) => "improvement_actions",
            Section::Improvements(_) => "improvements",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Section::Kpis(_) => "KPIs against targets and the previous month",
            Section::Worse(_) => "What got worse since the previous month",
            Section::Breaches(_) => "SLA breaches by stage and priority",
            Section::WeakestStages(_) => "Weakest stages (dwell time against target)",
            Section::ComplaintTags(_) => "Top complaint tags",
            Section::Partners(_) => "Partner scorecard ranking",
            Section::Training(_) => "Training compliance and upcoming certification expiries",
            Section::Actions(_) => "Improvement actions from earlier reviews",
            Section::Improvements(_) => "Improvement points",
        }
    }
}

/// The figures a meeting opens with.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    pub opened: u64,
    /// Of the tickets opened in the month, those resolved or closed.
    pub resolved: u64,
    /// Tickets open at the month's end (or now, for the running month).
    pub backlog_at_end: u64,
    /// Clocks met over clocks decided, every clock kind together.
    pub sla_compliance: Option<f64>,
    pub csat: Option<f64>,
    pub csat_target: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceReview {
    pub month: Month,
    pub period: Period,
    pub generated_at: Timestamp,
    pub headline: Headline,
    pub sections: Vec<Section>,
}

/// The KPIs that fell back since the month before, most severe first.
pub fn what_got_worse(kpis: &[KpiLine]) -> Vec<KpiLine> {
    let mut worse: Vec<KpiLine> = kpis.iter().filter(|l| l.fell_back()).cloned().collect();
    worse.sort_by(|a, b| b.kpi.severity().unwrap_or(0.0).total_cmp(&a.kpi.severity().unwrap_or(0.0)));
    worse
}

/// Orders stages weakest first: most breaches, then slowest against target; keeps `limit`.
pub fn weakest_stages(mut stages: Vec<WeakStage>, limit: usize) -> Vec<WeakStage> {
    stages.retain(|s| s.dwell.breached > 0 || s.ratio().is_some());
    stages.sort_by(|a, b| {
        b.dwell.breached.cmp(&a.dwell.breached).then_with(|| b.ratio().unwrap_or(0.0).total_cmp(&a.ratio().unwrap_or(0.0)))
    });
    stages.truncate(limit);
    stages
}

/// A short list of improvement points drawn from the data, most pressing first: the stage
/// that most often breaches its target, KPIs missing their targets (furthest off first), the
/// top complaint tag, then KPIs that got worse than the month before.
pub fn improvement_points(kpis: &[KpiLine], weakest: &[WeakStage], complaint_tags: &[(String, u64)]) -> Vec<String> {
    let mut points = Vec::new();
    if let Some(stage) = weakest.first().filter(|s| s.dwell.breached > 0) {
        let target = stage.target_seconds.map(|t| format!(" of {}", Unit::Seconds.format(t))).unwrap_or_default();
        let mean = stage.dwell.mean_ms.map(|m| format!(" (mean dwell {})", Unit::Seconds.format(m / 1000.0))).unwrap_or_default();
        points.push(format!(
            "Stage `{}/{}` most often exceeded its target{target}: {} time(s){mean}. Review its staffing, hand-offs and target first.",
            stage.dwell.process, stage.dwell.stage, stage.dwell.breached
        ));
    }
    let judged: Vec<&KpiLine> = kpis.iter().filter(|l| l.kpi.key != "stage_dwell_time" && l.kpi.key != "backlog").collect();
    let mut missed: Vec<&&KpiLine> = judged.iter().filter(|l| l.kpi.status() == Some(KpiStatus::Breach)).collect();
    missed.sort_by(|a, b| b.kpi.severity().unwrap_or(0.0).total_cmp(&a.kpi.severity().unwrap_or(0.0)));
    for line in missed {
        let target = line.kpi.target.map(|t| line.kpi.unit.format(t.value)).unwrap_or_default();
        points.push(format!("{} is {} against a target of {target}.", line.kpi.label(), line.kpi.display_value()));
    }
    if let Some((tag, n)) = complaint_tags.first() {
        points.push(format!("Complaints were most often tagged `{tag}` ({n}): find and remove its root cause."));
    }
    for line in judged.iter().filter(|l| l.kpi.status() != Some(KpiStatus::Breach) && l.worsened()) {
        let before = line.previous.map(|p| line.kpi.unit.format(p)).unwrap_or_default();
        points.push(format!("{} got worse than last month: {before} → {}.", line.kpi.label(), line.kpi.display_value()));
    }
    if points.is_empty() {
        points.push("Every KPI with a target met it: keep the standards, and consider raising the targets.".to_owned());
    }
    points.truncate(12);
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::{Better, Target};

    fn stage(name: &str, breached: u64, mean_s: f64, target_s: f64) -> WeakStage {
        WeakStage {
            dwell: StageDwell { process: "general".into(), stage: name.into(), completed: 3, mean_ms: Some(mean_s * 1000.0), breached },
            target_seconds: Some(target_s),
        }
    }

    #[test]
    fn weakest_stage_is_the_one_that_breaches_most() {
        let ranked = weakest_stages(vec![stage("a", 0, 500.0, 100.0), stage("b", 2, 50.0, 100.0), stage("c", 2, 90.0, 100.0)], 2);
        let names: Vec<_> = ranked.iter().map(|s| s.dwell.stage.as_str()).collect();
        assert_eq!(names, ["c", "b"]);
    }

    #[test]
    fn improvement_points_name_the_weak_stage_missed_targets_and_complaints() {
        let target = Target { value: 0.85, better: Better::Higher, warning_margin: 0.1 };
        let csat = KpiLine {
            kpi: Kpi::new("csat_satisfied_share", "CSAT (share of 4–5 scores)", Unit::Ratio, Some(0.5), 2).with_target(Some(target)),
            previous: Some(0.9),
        };
        let fine = KpiLine {
            kpi: Kpi::new("resolution_rate", "Resolution rate", Unit::Ratio, Some(0.7), 10)
                .with_target(Some(Target { value: 0.5, ..target })),
            previous: Some(0.9),
        };
        let points = improvement_points(&[csat, fine], &[stage("consultation", 3, 20_000.0, 14_400.0)], &[("billing".into(), 2)]);
        assert!(points[0].contains("`general/consultation`") && points[0].contains("3 time(s)"), "{points:?}");
        assert!(points[1].contains("CSAT (share of 4–5 scores) is 50.0 %"), "{points:?}");
        assert!(points[2].contains("`billing` (2)"), "{points:?}");
        assert!(points[3].contains("Resolution rate got worse"), "{points:?}");
        assert_eq!(improvement_points(&[], &[], &[]).len(), 1);
    }

    #[test]
    fn what_got_worse_names_every_kpi_that_fell_back_whatever_its_status() {
        let higher = Target { value: 0.9, better: Better::Higher, warning_margin: 0.1 };
        let line = |key: &str, now: f64, before: f64, target: Target| KpiLine {
            kpi: Kpi::new(key, key, Unit::Ratio, Some(now), 10).with_target(Some(target)),
            previous: Some(before),
        };
        let kpis = [
            // In breach both months and a little lower: still worse.
            line("review_pass_rate", 0.5, 0.52, higher),
            line("sla_compliance", 0.8, 0.84, higher),
            line("resolution_rate", 0.95, 0.9, higher),
            line("reopen_rate", 0.05, 0.1, Target { value: 0.1, better: Better::Lower, warning_margin: 0.1 }),
            line("complaint_rate", 0.2, 0.1, Target { value: 0.1, better: Better::Lower, warning_margin: 0.1 }),
        ];
        let keys: Vec<_> = what_got_worse(&kpis).into_iter().map(|l| l.kpi.key).collect();
        assert_eq!(keys, ["complaint_rate", "review_pass_rate", "sla_compliance"]);
    }
}
