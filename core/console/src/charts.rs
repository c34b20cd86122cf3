//! Server-rendered SVG bar charts: the geometry is computed here, the markup is
//! `templates/charts.html`. Every chart carries a `<title>` and `<desc>`, and the page shows the
//! same numbers in a table beside it, so nothing depends on seeing the picture.

/// One horizontal bar.
pub struct Bar {
    pub label: String,
    pub value: String,
    /// `ok`, `warning`, `breach` or `plain`: the bar's colour class.
    pub class: &'static str,
    pub y: u32,
    pub text_y: u32,
    pub width: String,
    pub value_x: String,
}

pub struct BarChart {
    pub id: &'static str,
    pub title: String,
    pub desc: String,
    pub height: u32,
    pub bars: Vec<Bar>,
    /// The x of a target line, when the chart has one.
    pub target_x: Option<String>,
    pub target_label: String,
}

/// Where bars start (after their labels) and how long the longest one is.
pub const LABEL_WIDTH: f64 = 220.0;
pub const BAR_SPACE: f64 = 300.0;
const ROW: u32 = 26;

impl BarChart {
    /// `rows`: (label, value, shown value, class). `scale`: the value of a full-length bar
    /// (None: the largest value).
    pub fn new(
        id: &'static str,
        title: String,
        desc: String,
        rows: Vec<(String, f64, String, &'static str)>,
        scale: Option<f64>,
    ) -> BarChart {
        let max = scale.unwrap_or_else(|| rows.iter().map(|r| r.1).fold(0.0, f64::max)).max(f64::MIN_POSITIVE);
        let bars = rows
            .into_iter()
            .enumerate()
            .map(|(i, (label, v, value, class))| {
                let y = i as u32 * ROW + 4;
                let w = (v.max(0.0) / max).min(1.0) * BAR_SPACE;
                Bar { label, value, class, y, text_y: y + 15, width: format!("{w:.1}"), value_x: format!("{:.1}", LABEL_WIDTH + w + 6.0) }
            })
            .collect::<Vec<_>>();
        let height = (bars.len() as u32).max(1) * ROW + 8;
        BarChart { id, title, desc, height, bars, target_x: None, target_label: String::new() }
    }

    /// Draws a line at `target` (in the chart's scale, `scale` being a full bar).
    pub fn with_target(mut self, target: f64, scale: f64, label: String) -> BarChart {
        self.target_x = Some(format!("{:.1}", LABEL_WIDTH + (target / scale).clamp(0.0, 1.0) * BAR_SPACE));
        self.target_label = label;
        self
    }
}
