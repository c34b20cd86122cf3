//! Partner statistics over a window and the built-in scorecard computed from them.
//! [`PartnerStats`] is plain data on purpose: plugins compute further scorecards from it.

use super::{ids::PartnerId, time::Timestamp};

/// What a partner did in a window (delegations made in `[from, to)`), counted by the database.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PartnerStats {
    pub partner_id: Option<PartnerId>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Delegations made in the window.
    pub delegated: u64,
    /// Of those, how many the OLA can be judged on (resolved, or past their resolution due time).
    pub ola_due: u64,
    /// Of those, how many were resolved by their resolution due time.
    pub ola_met: u64,
    /// Delegated tickets resolved (after delegation).
    pub resolved: u64,
    /// From delegation to resolution.
    pub mean_resolution_ms: Option<i64>,
    pub p90_resolution_ms: Option<i64>,
    /// Satisfaction surveys answered on delegated tickets, and their mean score (1 to 5).
    pub csat_answers: u64,
    pub csat_mean: Option<f64>,
    /// Complaints naming a delegated ticket as their origin.
    pub complaints: u64,
    /// Reopens of delegated tickets after they were delegated.
    pub reopens: u64,
}

impl PartnerStats {
    pub fn ola_met_rate(&self) -> Option<f64> {
        (self.ola_due > 0).then(|| self.ola_met as f64 / self.ola_due as f64)
    }
}

/// How much evidence a scorecard rests on: the delegations in the window the OLA can be judged
/// on (resolved, or past their resolution due time), against the minimum a rating needs. Below
/// it every scorecard, built-in or a plugin's, is `unrated`: one open delegation says nothing
/// about a partner yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub judged: u64,
    pub minimum: u64,
}

impl Sample {
    pub fn of(stats: &PartnerStats, minimum: u64) -> Sample {
        Sample { judged: stats.ola_due, minimum }
    }

    /// Why there is no rating, when there is too little data for one.
    pub fn unrated_reason(&self) -> Option<String> {
        (self.judged < self.minimum).then(|| {
            let what = if self.judged == 1 { "delegation" } else { "delegations" };
            format!(
                "too little data: {} {what} in the window can be judged (resolved or past due); a rating needs at least {}",
                self.judged, self.minimum
            )
        })
    }

    /// The scorecard withheld: no score, grade `unrated`, the components kept for what they show.
    pub fn withhold(&self, card: Scorecard) -> Scorecard {
        match self.unrated_reason() {
            Some(_) => Scorecard { score: None, grade: grade(None).into(), ..card },
            None => card,
        }
    }
}

/// Relative weights of the built-in scorecard's components (any non-negative numbers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScorecardWeights {
    pub ola_met: f64,
    pub csat: f64,
    pub complaints: f64,
    pub reopens: f64,
}

/// One component: its 0–100 score, its weight, and the inputs it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub name: String,
    pub weight: f64,
    /// None: no data in the window; the component does not count.
    pub score: Option<f64>,
    pub inputs: Vec<(&'static str, serde_json::Value)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scorecard {
    /// 0–100; None when no component has data.
    pub score: Option<f64>,
    /// A (≥ 90), B (≥ 80), C (≥ 70), D (≥ 60), E, or `unrated`.
    pub grade: String,
    pub components: Vec<Component>,
}

pub fn grade(score: Option<f64>) -> &'static str {
    match score {
        None => "unrated",
        Some(s) if s >= 90.0 => "A",
        Some(s) if s >= 80.0 => "B",
        Some(s) if s >= 70.0 => "C",
        Some(s) if s >= 60.0 => "D",
        Some(_) => "E",
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The built-in scorecard: OLA met rate, CSAT (1→0, 5→100), and complaints and reopens per
/// delegated ticket (none → 100, one or more per ticket → 0), weighted; components without
/// data are left out and the others' weights share their place.
pub fn builtin_scorecard(stats: &PartnerStats, weights: &ScorecardWeights) -> Scorecard {
    use serde_json::json;
    let per_ticket = |n: u64| (stats.delegated > 0).then(|| 100.0 * (1.0 - (n as f64 / stats.delegated as f64).min(1.0)));
    let components = vec![
        Component {
            name: "ola_met".into(),
            weight: weights.ola_met,
            score: stats.ola_met_rate().map(|r| 100.0 * r),
            inputs: vec![("ola_due", json!(stats.ola_due)), ("ola_met", json!(stats.ola_met))],
        },
        Component {
            name: "csat".into(),
            weight: weights.csat,
            score: stats.csat_mean.map(|m| 100.0 * ((m - 1.0) / 4.0).clamp(0.0, 1.0)),
            inputs: vec![("csat_answers", json!(stats.csat_answers)), ("csat_mean", json!(stats.csat_mean))],
        },
        Component {
            name: "complaints".into(),
            weight: weights.complaints,
            score: per_ticket(stats.complaints),
            inputs: vec![("complaints", json!(stats.complaints)), ("delegated", json!(stats.delegated))],
        },
        Component {
            name: "reopens".into(),
            weight: weights.reopens,
            score: per_ticket(stats.reopens),
            inputs: vec![("reopens", json!(stats.reopens)), ("delegated", json!(stats.delegated))],
        },
    ];
    let (sum, total_weight) =
        components.iter().filter_map(|c| c.score.map(|s| (s * c.weight, c.weight))).fold((0.0, 0.0), |(s, w), (cs, cw)| (s + cs, w + cw));
    let score = (total_weight > 0.0).then(|| round1(sum / total_weight));
    let components = components.into_iter().map(|c| Component { score: c.score.map(round1), ..c }).collect();
    Scorecard { score, grade: grade(score).into(), components }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEIGHTS: ScorecardWeights = ScorecardWeights { ola_met: 40.0, csat: 30.0, complaints: 15.0, reopens: 15.0 };

    #[test]
    fn a_perfect_partner_scores_100_and_an_idle_one_is_unrated() {
        let perfect =
            PartnerStats { delegated: 4, ola_due: 4, ola_met: 4, csat_answers: 2, csat_mean: Some(5.0), ..PartnerStats::default() };
        let card = builtin_scorecard(&perfect, &WEIGHTS);
        assert_eq!((card.score, card.grade.as_str()), (Some(100.0), "A"));
        let idle = builtin_scorecard(&PartnerStats::default(), &WEIGHTS);
        assert_eq!((idle.score, idle.grade.as_str()), (None, "unrated"));
    }

    #[test]
    fn too_little_data_is_unrated_with_the_minimum_stated() {
        // One open delegation, nothing judged: the components alone would say 100 / A.
        let open = PartnerStats { delegated: 1, ..PartnerStats::default() };
        let card = builtin_scorecard(&open, &WEIGHTS);
        assert_eq!(card.grade, "A");
        let sample = Sample::of(&open, 3);
        let withheld = sample.withhold(card.clone());
        assert_eq!((withheld.score, withheld.grade.as_str()), (None, "unrated"));
        assert_eq!(withheld.components, card.components);
        let reason = sample.unrated_reason().unwrap();
        assert!(reason.contains("0 delegations") && reason.contains("at least 3"), "{reason}");
        let enough = PartnerStats { delegated: 3, ola_due: 3, ola_met: 3, ..PartnerStats::default() };
        let sample = Sample::of(&enough, 3);
        assert_eq!(sample.unrated_reason(), None);
        assert_eq!(sample.withhold(builtin_scorecard(&enough, &WEIGHTS)).grade, "A");
    }

    #[test]
    fn components_are_weighted_and_missing_ones_left_out() {
        // OLA 50 %, no CSAT, 1 complaint and 2 reopens on 4 tickets.
        let s = PartnerStats { delegated: 4, ola_due: 2, ola_met: 1, complaints: 1, reopens: 2, ..PartnerStats::default() };
        let card = builtin_scorecard(&s, &WEIGHTS);
        // (50*40 + 75*15 + 50*15) / 70 = 55.357…
        assert_eq!(card.score, Some(55.4));
        assert_eq!(card.grade, "E");
        assert_eq!(card.components[1].score, None);
        let heavy_ola = ScorecardWeights { ola_met: 1.0, csat: 0.0, complaints: 0.0, reopens: 0.0 };
        assert_eq!(builtin_scorecard(&s, &heavy_ola).score, Some(50.0));
    }
}
