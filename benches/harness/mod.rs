//! What both benchmarks' drivers share: their command-line settings, the
//! runs of one figure with median and range, and table formatting.

/// A benchmark's settings, from the environment or the arguments after `--`.
pub struct Settings {
    /// Every count is multiplied by this.
    pub scale: f64,
    /// Repetitions per figure.
    pub runs: usize,
    /// Only these contenders (the baseline always runs).
    pub only: Option<Vec<String>>,
    /// Only these workloads.
    pub workloads: Option<Vec<String>>,
    /// The contender every ratio is taken against.
    baseline: &'static str,
}

impl Settings {
    /// Reads `COURIER_BENCH_{SCALE,RUNS,ONLY,WORKLOADS}`, then `--scale`,
    /// `--runs`, `--only`, `--workloads` from `args`.
    pub fn parse(args: &[String], baseline: &'static str, default_runs: usize) -> Settings {
        let mut scale = std::env::var("COURIER_BENCH_SCALE").ok();
        let mut runs = std::env::var("COURIER_BENCH_RUNS").ok();
        let mut only = std::env::var("COURIER_BENCH_ONLY").ok();
        let mut workloads = std::env::var("COURIER_BENCH_WORKLOADS").ok();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--scale" => scale = args.next().cloned(),
                "--runs" => runs = args.next().cloned(),
                "--only" => only = args.next().cloned(),
                "--workloads" => workloads = args.next().cloned(),
                _ => {} // `cargo bench` passes `--bench`.
            }
        }
        Settings {
            scale: scale.map_or(1.0, |s| s.parse().expect("scale: a number such as 0.01")),
            runs: runs.map_or(default_runs, |r| r.parse().expect("runs: a whole number")).max(1),
            only: only.map(|o| o.split(',').map(str::to_owned).collect()),
            workloads: workloads.map(|w| w.split(',').map(str::to_owned).collect()),
            baseline,
        }
    }

    /// `full` scaled, at least 1.
    pub fn count(&self, full: f64) -> usize {
        ((full * self.scale) as usize).max(1)
    }

    /// Whether contender `name` runs.
    pub fn wants(&self, name: &str) -> bool {
        name == self.baseline || self.only.as_ref().is_none_or(|only| only.iter().any(|o| o == name))
    }

    /// Whether workload `name` runs.
    pub fn does(&self, workload: &str) -> bool {
        self.workloads.as_ref().is_none_or(|w| w.iter().any(|o| o == workload))
    }
}

/// The runs of one figure.
#[derive(Default)]
pub struct Figure(pub Vec<f64>);

impl Figure {
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median run.
    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    /// `median (min–max)`, each formatted by `fmt`.
    pub fn show(&self, fmt: fn(f64) -> String) -> String {
        let v = self.sorted();
        match (v.first(), v.last()) {
            (Some(lo), Some(hi)) => format!("{} ({}–{})", fmt(self.median()), fmt(*lo), fmt(*hi)),
            _ => "–".into(),
        }
    }

    /// The latest run, for progress lines.
    pub fn last(&self) -> f64 {
        self.0.last().copied().unwrap_or(f64::NAN)
    }
}

/// `v / base` as `1.23x`, or `–` when there is no ratio.
pub fn ratio(v: f64, base: f64) -> String {
    if (v / base).is_finite() { format!("{:.2}x", v / base) } else { "–".into() }
}

/// The first three fields of `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "?".into(), |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}
