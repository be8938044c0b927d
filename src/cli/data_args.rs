//! The flags every data-reading command shares: which file, which column plays which role.

use anyhow::bail;
use clap::Args;

use churncal::data::memory::{self, Job};
use churncal::data::{
    parse, Encoding, Horizon, Lifecycle, LoadRequest, OutcomeNeed, Roles, Snapshots,
};
use churncal::profile::Profile;
use churncal::score::{StreamedScores, SubScores};

/// The bundled sample, used when no --data is given.
pub const SAMPLE_DATA: &str = churncal::data::SAMPLE_PATH;

/// What every command that reads data and scores it takes: the data flags and the profile.
#[derive(Debug, Clone, clap::Args)]
pub struct Input {
    #[command(flatten)]
    pub data: DataArgs,
    /// Profile: a .toml or .json file (a calibrated one adds P(churn)), a preset name, or a
    /// profile set's index (profiles.toml: a profile per segment value).
    #[arg(short, long, value_name = "PROFILE", default_value = churncal::profile::presets::DEFAULT_PRESET)]
    pub profile: String,
}

impl Input {
    /// The profile or profile set named by `--profile`; a set's segment column joins the
    /// segments to load.
    pub fn profiles(&mut self) -> anyhow::Result<churncal::profile::set::Profiles> {
        let p = churncal::profile::set::Profiles::read(&self.profile)?;
        if let churncal::profile::set::Profiles::Set(s) = &p {
            if !self.data.segment.contains(&s.segment) {
                self.data.segment.push(s.segment.clone());
            }
        }
        Ok(p)
    }
}

/// Input data and column roles.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Snapshot file: .csv, .parquet, or a spreadsheet (.xlsx, .xls, .ods); - reads CSV
    /// from standard input.
    #[arg(short, long, value_name = "FILE", default_value = SAMPLE_DATA)]
    pub data: String,
    /// Account id column [default: account_id; absent: row numbers].
    #[arg(long, value_name = "COL")]
    pub id_col: Option<String>,
    /// Snapshot date column [default: snapshot_date; absent: one snapshot].
    #[arg(long, value_name = "COL")]
    pub date_col: Option<String>,
    /// Outcome column: 0/1, true/false, yes/no, churned/renewed [default: churned].
    #[arg(long, value_name = "COL")]
    pub outcome_col: Option<String>,
    /// Outcome labels that mean churned, when the outcome column holds its own (like
    /// "Attrited Customer"); matched ignoring case.
    #[arg(long, value_name = "LABEL", value_delimiter = ',')]
    pub churned_value: Vec<String>,
    /// Outcome labels that mean retained [default: every other value, once
    /// --churned-value is given].
    #[arg(
        long,
        value_name = "LABEL",
        value_delimiter = ',',
        requires = "churned_value"
    )]
    pub retained_value: Vec<String>,
    /// Segment columns, comma-separated (industry,plan,...).
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub segment: Vec<String>,
    /// Churn date column [default: churn_date].
    #[arg(long, value_name = "COL")]
    pub churn_date_col: Option<String>,
    /// Customer-since column [default: customer_since].
    #[arg(long, value_name = "COL")]
    pub customer_since_col: Option<String>,
    /// Revenue (ARR) column [default: arr].
    #[arg(long, value_name = "COL")]
    pub arr_col: Option<String>,
    /// Derive the outcome from the churn date over this horizon: 90d, 13w, 6m, 1y.
    #[arg(long, value_name = "H")]
    pub horizon: Option<String>,
    /// Last date the data covers, for right-censoring with --horizon [default: latest date in the file].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,
    /// CSV field separator (one character, or "tab") [default: detected from the header].
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// CSV text encoding: utf8 or latin1.
    #[arg(long, value_name = "ENC", default_value = "utf8")]
    pub encoding: String,
    /// Worksheet of a spreadsheet [default: the first].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Format of the date columns: a strftime pattern (%d/%m/%Y, %m/%d/%Y, %d.%m.%Y,
    /// %d-%b-%Y, ...) or excel for serial day numbers [default: detected per column: ISO,
    /// MM/DD/YYYY, DD/MM/YYYY, DD.MM.YYYY, YYYY/MM/DD].
    #[arg(long, value_name = "PATTERN")]
    pub date_format: Option<String>,
    /// Numbers use a decimal comma (45,5) [default: detected when the delimiter is ;].
    #[arg(long, conflicts_with = "decimal_point")]
    pub decimal_comma: bool,
    /// Numbers use a decimal point, whatever the detection says.
    #[arg(long)]
    pub decimal_point: bool,
    /// Read numbers with percent signs (45% as 45), currency symbols or codes ($, €,
    /// USD), thousands separators (1,234) and accounting negatives ((300)); the audit
    /// counts them.
    #[arg(long)]
    pub lenient_numbers: bool,
    /// Refuse to start when the run's estimated peak memory exceeds SIZE (800M, 4G, ...)
    /// [default: the memory available now]
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
}

impl DataArgs {
    /// The library request for a profile's columns.
    /// The `--segment` columns named (empty names dropped).
    pub fn segments(&self) -> Vec<String> {
        self.segment
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect()
    }

    /// `--as-of` as a day number, when given.
    pub fn as_of_day(&self) -> anyhow::Result<Option<churncal::data::Day>> {
        match &self.as_of {
            None => Ok(None),
            Some(s) => match parse::date(s) {
                Ok(Some(d)) => Ok(Some(d)),
                _ => bail!("--as-of '{s}' is not a date as YYYY-MM-DD"),
            },
        }
    }

    pub fn request(&self, profile: &Profile, outcome: OutcomeNeed) -> anyhow::Result<LoadRequest> {
        let mut req = LoadRequest::for_profile(profile);
        req.roles = Roles {
            id: self.id_col.clone(),
            date: self.date_col.clone(),
            outcome: self.outcome_col.clone(),
            segments: self
                .segment
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect(),
            customer_since: self.customer_since_col.clone(),
            churn_date: self.churn_date_col.clone(),
            arr: self.arr_col.clone(),
        };
        req.outcome = outcome;
        req.horizon = self
            .horizon
            .as_deref()
            .map(Horizon::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?;
        req.as_of = self.as_of_day()?;
        req.outcome_labels =
            (!self.churned_value.is_empty()).then(|| churncal::data::OutcomeLabels {
                churned: self.churned_value.clone(),
                retained: self.retained_value.clone(),
            });
        req.delimiter = match self.delimiter.as_deref() {
            None => None,
            Some("tab" | "\\t") => Some(b'\t'),
            Some(s) if s.len() == 1 => Some(s.as_bytes()[0]),
            Some(s) => bail!("--delimiter '{s}' must be one ASCII character or \"tab\""),
        };
        req.encoding = match self.encoding.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Encoding::Utf8,
            "latin1" | "latin-1" | "iso-8859-1" | "windows-1252" | "cp1252" => Encoding::Latin1,
            other => bail!("--encoding '{other}': use utf8 or latin1"),
        };
        req.formats = churncal::data::Formats {
            decimal_comma: match (self.decimal_comma, self.decimal_point) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            lenient_numbers: self.lenient_numbers,
            date_format: self
                .date_format
                .as_deref()
                .map(churncal::data::DateFormat::from_flag)
                .transpose()
                .map_err(anyhow::Error::msg)?,
            sheet: self.sheet.clone(),
        };
        Ok(req)
    }

    /// Load the data a profile needs.
    pub fn load(
        &self,
        profile: &Profile,
        outcome: OutcomeNeed,
        job: Job,
        ui: &super::Ui,
    ) -> anyhow::Result<churncal::data::Snapshots> {
        self.load_for(&[profile], outcome, job, ui)
    }

    /// Load the columns every one of `profiles` needs.
    pub fn load_for(
        &self,
        profiles: &[&Profile],
        outcome: OutcomeNeed,
        job: Job,
        ui: &super::Ui,
    ) -> anyhow::Result<churncal::data::Snapshots> {
        let req = self.request_for(profiles, outcome)?;
        self.load_request(&req, job, ui)
    }

    /// The request of the columns every one of `profiles` needs.
    pub fn request_for(
        &self,
        profiles: &[&Profile],
        outcome: OutcomeNeed,
    ) -> anyhow::Result<LoadRequest> {
        let mut req = self.request(profiles[0], outcome)?;
        for p in &profiles[1..] {
            for (col, kind) in LoadRequest::for_profile(p).metrics {
                match req.metrics.iter().find(|(c, _)| c == &col) {
                    None => req.metrics.push((col, kind)),
                    Some((_, k)) if *k != kind => bail!(
                        "column '{col}' is read as {k:?} by '{}' and as {kind:?} by '{}'",
                        profiles[0].name,
                        p.name
                    ),
                    Some(_) => {}
                }
            }
        }
        Ok(req)
    }

    /// Load the data a profile or a profile set needs and score it (each row by its own
    /// profile in a set), to `extent`. The notes say how many rows each profile of a set
    /// scored and which segment values it does not map.
    pub fn load_scored(
        &self,
        profiles: &churncal::profile::set::Profiles,
        outcome: OutcomeNeed,
        job: Job,
        extent: churncal::score::Extent,
        ui: &super::Ui,
    ) -> anyhow::Result<(
        Snapshots,
        churncal::score::Scored,
        Option<churncal::score::Assignment>,
    )> {
        let data = self.load_for(&profiles.all(), outcome, job, ui)?;
        let (subs, assignment) = churncal::score::subscores_for(profiles, &data)?;
        let scored =
            churncal::score::score_assigned(profiles.main(), &subs, assignment.as_ref(), extent);
        if let Some(a) = &assignment {
            super::note_assignment(a, profiles, ui);
        }
        Ok((data, scored, assignment))
    }

    /// Load as `req` says.
    pub fn load_request(
        &self,
        req: &LoadRequest,
        job: Job,
        ui: &super::Ui,
    ) -> anyhow::Result<Snapshots> {
        self.check_memory(job, req.metrics.len())?;
        self.loaded(churncal::data::load(&self.data, req), ui)
    }

    /// Load the data a profile needs and score it, without keeping the metric values:
    /// they become scores batch by batch as the file loads ([`StreamedScores`]), unless
    /// --horizon is given (the rows it drops are known only at the end: then the table is
    /// loaded whole and scored). The snapshots come back without metric columns; the
    /// scores are NaN where a row has none.
    pub fn load_scores(
        &self,
        profile: &Profile,
        outcome: OutcomeNeed,
        ui: &super::Ui,
    ) -> anyhow::Result<(Snapshots, Vec<f64>)> {
        let mut req = self.request(profile, outcome)?;
        // (Scores and counts use neither the start of the relationship nor the churn date.)
        req.lifecycle_dates = Lifecycle::Checked;
        if req.horizon.is_some() {
            let mut data = self.load_request(&req, Job::Score, ui)?;
            let subs = SubScores::compute_consuming(profile, &mut data)?;
            data.metrics.clear();
            return Ok((data, subs.scores(&profile.effective_weights())));
        }
        self.check_memory(Job::Stream, req.metrics.len())?;
        let mut sink = StreamedScores::new(profile);
        let data = self.loaded(
            churncal::data::load_streaming(&self.data, &req, &mut sink),
            ui,
        )?;
        Ok((data, sink.into_scores()))
    }

    /// A load's snapshots, its warnings shown (and a note when the bundled sample stood in
    /// for a missing notebooks-data/).
    fn loaded(
        &self,
        load: Result<Snapshots, churncal::data::DataError>,
        ui: &super::Ui,
    ) -> anyhow::Result<Snapshots> {
        if self.data == SAMPLE_DATA && !std::path::Path::new(SAMPLE_DATA).exists() {
            ui.note(format!(
                "{SAMPLE_DATA} is not here: using the bundled sample compiled into churncal"
            ));
        }
        let snaps = load?;
        churncal::data::memory::release_free();
        for w in &snaps.notes.warnings {
            ui.warn(super::hint::for_warning(w));
        }
        for n in snaps.notes.formats.sentences() {
            ui.note(n);
        }
        Ok(snaps)
    }

    /// Stop before reading when the run would need more memory than `--max-memory` (or
    /// than the machine has available), naming both figures.
    pub(super) fn check_memory(&self, job: Job, metrics: usize) -> anyhow::Result<()> {
        let limit = match &self.max_memory {
            Some(s) => {
                Some(memory::parse_size(s).map_err(|e| anyhow::anyhow!("--max-memory {e}"))?)
            }
            None => memory::available(),
        };
        let (Some(limit), Some(est)) = (limit, memory::estimate(&self.data, job, metrics)) else {
            return Ok(());
        };
        if est.bytes > limit {
            bail!(
                "{}: {}{} rows × {metrics} metric columns need about {} of memory, and {} {}. \
                 Pass --max-memory {} to try anyway, fit on a sample (calibrate --sample-controls), \
                 or see docs/scale.md for data beyond one machine",
                self.data,
                if est.exact { "" } else { "about " },
                est.rows,
                memory::human(est.bytes),
                memory::human(limit),
                if self.max_memory.is_some() {
                    "is the --max-memory limit"
                } else {
                    "is available"
                },
                memory::human(est.bytes).replace(' ', "").replace("GB", "G").replace("MB", "M"),
            );
        }
        Ok(())
    }
}
