//! Benchmark suites: several workloads, the optimizers entered under MLCommons AlgoPerf's two
//! tuning rulesets, and the targets set from tuned baselines (`descent benchmark`).
//!
//! A suite file names its workloads (each an experiment table without variants: problem,
//! batch, `budget.steps`, eval and the `[target]` the runs race to), its studies (seeds), its
//! self-tuning entrants (one configuration each: the optimizer's defaults) and its
//! external-tuning entrants (a search space each). From it come ordinary experiments, one per
//! workload and ruleset, which run, resume and shard like any other:
//!
//! | ruleset          | variants                                   | seeds           | budget            |
//! |------------------|--------------------------------------------|-----------------|-------------------|
//! | `self-tuning`    | each entrant as written                    | the studies     | 1.5 x `steps`     |
//! | `external-tuning`| `ENTRANT@K`: K-th quasi-random point       | the studies     | `steps`           |
//! | `target-setting` | the baselines' points, then the best one   | one, then several | 0.75 x `steps`  |
//!
//! The budget factors are AlgoPerf's: a submission gets 4/3 of the target-setting runs'
//! budget, and a self-tuning one 1.5 times that of an externally tuned one. Trials are the
//! same points in every study (AlgoPerf draws its Halton points with a fixed seed too); a
//! study differs by its seed. The points come from an Owen-scrambled Sobol sequence
//! ([`sobol_burley`]), one dimension per searched field, rounded to 4 significant digits.
//!
//! The target of a workload (AlgoPerf's way): every baseline's trials run with one seed on
//! the target-setting budget; the trial with the best value of the target's metric (its best
//! over the run) is rerun with several other seeds, and the median of their best values is
//! the target. The median of reruns, not the best trial, keeps a lucky seed from setting it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::config::{self, Plan};
use crate::error::{UsageError, usage};
use crate::metric::Metric;

/// AlgoPerf's budget of a self-tuning submission over an externally tuned one.
pub const SELF_TUNING_BUDGET: f64 = 1.5;
/// AlgoPerf's budget of the target-setting runs over a submission's (it gave submissions
/// a third more time than the target-setting algorithms took).
pub const TARGET_SETTING_BUDGET: f64 = 0.75;
/// Directory names under `OUT/SUITE/RULESET/` that are not workloads.
const RESERVED: [&str; 2] = ["score", "experiments"];
/// The most trials an entrant may have (the Sobol sequence's length is 2^16).
pub const MAX_TRIALS: usize = 1000;

/// A suite file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// The suite's name: its output directory.
    pub name: String,
    /// One line on what it measures.
    #[serde(default)]
    pub description: String,
    /// The studies: one seed each.
    pub studies: Vec<u64>,
    /// The workloads, in the leaderboard's order.
    pub workloads: Vec<Workload>,
    /// AlgoPerf's self-tuning ruleset: one configuration per optimizer, no tuning.
    pub self_tuning: SelfTuning,
    /// AlgoPerf's external-tuning ruleset: a search space per optimizer.
    pub external_tuning: ExternalTuning,
    /// How the workloads' targets are set.
    pub target_setting: TargetSetting,
    /// What `--quick` changes (fewer studies, trials and entrants: for CI); each workload's
    /// own `quick` table shrinks its budget.
    #[serde(default)]
    pub quick: Quick,
}

/// One workload: an experiment table without variants or seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workload {
    /// Its name (the experiment's, and its column of the leaderboard).
    pub name: String,
    /// How its target was set: the baseline and trial chosen, the reruns, their median.
    pub target_from: String,
    /// `problem`, `batch`, `budget` (with `steps`: the external-tuning budget), `eval`,
    /// `target`, ... and `quick` (overrides for `--quick`), as in an experiment file.
    #[serde(flatten)]
    pub experiment: Table,
}

/// `[self_tuning]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfTuning {
    /// The entrants: `[[variants]]` tables, each an optimizer at its defaults.
    pub entrants: Vec<Table>,
}

/// `[external_tuning]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalTuning {
    /// Trials per study (AlgoPerf: 5).
    #[serde(default = "five")]
    pub trials: usize,
    /// Seed of the scrambled Sobol sequence the trials are drawn from.
    #[serde(default)]
    pub seed: u32,
    /// The entrants.
    pub entrants: Vec<TunedEntrant>,
}

fn five() -> usize {
    5
}

/// An externally tuned entrant: a variant table whose fields in `space` are searched.
/// Entrants with spaces of the same shape get the same points (one sequence, one seed): a
/// paired comparison, as AlgoPerf's fixed-seed Halton points give.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TunedEntrant {
    /// Its name; its trials are `NAME@1`, `NAME@2`, ...
    pub name: String,
    /// Searched fields of the variant (`lr`, `"optimizer.beta_1"`, ...) and their ranges
    /// (a whole-number field takes `{ values = [...] }`: intervals give floats).
    pub space: BTreeMap<String, Range>,
    /// The rest of the variant (`optimizer`, `schedule`, ...), as in `[[variants]]`.
    #[serde(flatten)]
    pub variant: Table,
}

/// A searched field's range: `{ min, max }` (with `scale = "log"`, the default, or
/// `"linear"`), or `{ values = [...] }` (a discrete set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// The least value.
    #[serde(default)]
    pub min: Option<f64>,
    /// The greatest value.
    #[serde(default)]
    pub max: Option<f64>,
    /// `log` (default) or `linear`.
    #[serde(default)]
    pub scale: Option<String>,
    /// A discrete set instead of an interval.
    #[serde(default)]
    pub values: Option<Vec<Value>>,
}

/// `[target_setting]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSetting {
    /// The external-tuning entrants whose best sets the target (AlgoPerf: AdamW, NAdamW,
    /// heavy ball, Nesterov).
    pub baselines: Vec<String>,
    /// Trials per baseline (AlgoPerf: 200; the first of them are the external-tuning trials).
    pub trials: usize,
    /// The seed of the search (one run per trial).
    pub search_seed: u64,
    /// The seeds of the best trial's reruns (AlgoPerf: 20), apart from the search's: the
    /// trial was chosen for its run with that seed.
    pub seeds: Vec<u64>,
}

/// `[quick]`: a small version of the suite.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quick {
    /// Studies instead of the suite's.
    #[serde(default)]
    pub studies: Option<Vec<u64>>,
    /// Trials per external-tuning entrant and per target-setting baseline.
    #[serde(default)]
    pub trials: Option<usize>,
    /// Rerun seeds of target setting.
    #[serde(default)]
    pub target_seeds: Option<Vec<u64>>,
    /// Only these entrants (of either ruleset).
    #[serde(default)]
    pub entrants: Option<Vec<String>>,
}

/// What a suite runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ruleset {
    /// Each entrant's defaults, every study.
    SelfTuning,
    /// Each entrant's quasi-random trials, every study.
    ExternalTuning,
    /// The baselines' search and the reruns that set each workload's target.
    TargetSetting,
}

impl Ruleset {
    /// Its name on the command line and as a directory.
    pub fn name(self) -> &'static str {
        match self {
            Ruleset::SelfTuning => "self-tuning",
            Ruleset::ExternalTuning => "external-tuning",
            Ruleset::TargetSetting => "target-setting",
        }
    }
}

impl Suite {
    /// Reads and checks a suite file, with its `[quick]` applied when `quick` is set.
    pub fn load(file: &Path, quick: bool) -> Result<Suite> {
        let shown = file.display();
        let text = std::fs::read_to_string(file)
            .map_err(|e| usage(format!("{shown}: cannot read the suite file: {e}")))?;
        let table: Table = text.parse().map_err(|e: toml::de::Error| {
            usage(format!("{shown}: {}", config::one_line(&e.to_string())))
        })?;
        let suite: Suite = serde_path_to_error::deserialize(Value::Table(table))
            .map_err(|e| usage(format!("{shown}: {}: {}", e.path(), e.inner().message())))?;
        let mut suite = suite;
        // The whole file is checked, [quick] included, whether or not --quick applies it.
        suite.check(&shown.to_string())?;
        if quick {
            suite.apply_quick();
            suite.check(&format!("{shown} (with its [quick])"))?;
        }
        Ok(suite)
    }

    fn apply_quick(&mut self) {
        let quick = self.quick.clone();
        if let Some(studies) = quick.studies {
            self.studies = studies;
        }
        if let Some(trials) = quick.trials {
            self.external_tuning.trials = trials;
            self.target_setting.trials = trials;
        }
        if let Some(seeds) = quick.target_seeds {
            self.target_setting.seeds = seeds;
        }
        if let Some(keep) = quick.entrants {
            let named = |t: &Table| {
                t.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| keep.iter().any(|k| k == n))
            };
            self.self_tuning.entrants.retain(named);
            self.external_tuning
                .entrants
                .retain(|e| keep.contains(&e.name));
            self.target_setting.baselines.retain(|b| keep.contains(b));
        }
    }

    fn check(&self, shown: &str) -> Result<()> {
        let err = |field: &str, message: String| -> anyhow::Error {
            UsageError(format!("{shown}: {field}: {message}")).into()
        };
        config::check_name("name", &self.name, shown)?;
        if self.studies.is_empty() {
            return Err(err("studies", "no studies: give at least one seed".into()));
        }
        if has_duplicate(&self.studies) {
            return Err(err("studies", "a seed is listed twice".into()));
        }
        if self.workloads.is_empty() {
            return Err(err("workloads", "no workloads".into()));
        }
        let names: Vec<&str> = self.workloads.iter().map(|w| w.name.as_str()).collect();
        if has_duplicate(&names) {
            return Err(err("workloads", "two workloads share a name".into()));
        }
        for w in &self.workloads {
            for key in ["variants", "seeds", "sweep", "name"] {
                if w.experiment.contains_key(key) {
                    return Err(err(
                        &format!("workloads.{}.{key}", w.name),
                        "set by the suite (entrants, studies, the workload's name), not the \
                         workload"
                            .into(),
                    ));
                }
            }
            steps_of(&w.experiment)
                .map_err(|e| err(&format!("workloads.{}.budget.steps", w.name), e))?;
            let budget = w.experiment.get("budget").and_then(Value::as_table);
            for key in ["epochs", "seconds", "until_target"] {
                if budget.is_some_and(|b| b.contains_key(key)) {
                    return Err(err(
                        &format!("workloads.{}.budget.{key}", w.name),
                        "a workload's budget is `steps` alone: the rulesets scale it (1.5x, \
                         0.75x), and another limit would cap the runs regardless"
                            .into(),
                    ));
                }
            }
            if !w.experiment.contains_key("target") {
                return Err(err(
                    &format!("workloads.{}.target", w.name),
                    "a workload needs a [target] (a first guess will do before target setting \
                     replaces it): its runs race to it"
                        .into(),
                ));
            }
            if let Some(quick) = w.experiment.get("quick")
                && !quick.is_table()
            {
                return Err(err(
                    &format!("workloads.{}.quick", w.name),
                    "a table of overrides, e.g. quick = { \"budget.steps\" = 40 }".into(),
                ));
            }
            if RESERVED.iter().any(|r| w.name.starts_with(r)) {
                return Err(err(
                    &format!("workloads.{}", w.name),
                    format!(
                        "a workload's name may not start with {}: those directories hold the \
                         score and the experiment files",
                        RESERVED.join(" or ")
                    ),
                ));
            }
        }
        let entrant_names: Vec<String> = self
            .self_tuning
            .entrants
            .iter()
            .map(|t| {
                t.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        if entrant_names
            .iter()
            .any(|n| n.is_empty() || n.contains('@'))
        {
            return Err(err(
                "self_tuning.entrants",
                "every entrant needs a name, without '@'".into(),
            ));
        }
        if has_duplicate(&entrant_names) {
            return Err(err(
                "self_tuning.entrants",
                "two entrants share a name".into(),
            ));
        }
        let tuned: Vec<&str> = self
            .external_tuning
            .entrants
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        if has_duplicate(&tuned) {
            return Err(err(
                "external_tuning.entrants",
                "two entrants share a name".into(),
            ));
        }
        for (field, trials) in [
            ("external_tuning.trials", self.external_tuning.trials),
            ("target_setting.trials", self.target_setting.trials),
        ] {
            if !(1..=MAX_TRIALS).contains(&trials) {
                return Err(err(field, format!("{trials}: between 1 and {MAX_TRIALS}")));
            }
        }
        for e in &self.external_tuning.entrants {
            let at = format!("external_tuning.entrants.{}", e.name);
            if e.name.is_empty() || e.name.contains(['@', '/', '\\']) {
                return Err(err(&at, "a name, without '@' or slashes".into()));
            }
            if e.space.is_empty() {
                return Err(err(&format!("{at}.space"), "nothing is searched".into()));
            }
            for (path, range) in &e.space {
                range
                    .check()
                    .map_err(|m| err(&format!("{at}.space.\"{path}\""), m))?;
            }
        }
        for b in &self.target_setting.baselines {
            if !tuned.contains(&b.as_str()) {
                return Err(err(
                    "target_setting.baselines",
                    format!(
                        "{b:?} is not an external-tuning entrant; those are: {}",
                        tuned.join(", ")
                    ),
                ));
            }
        }
        if let Some(quick) = &self.quick.entrants {
            let known = |n: &String| entrant_names.contains(n) || tuned.contains(&n.as_str());
            if let Some(unknown) = quick.iter().find(|n| !known(n)) {
                return Err(err(
                    "quick.entrants",
                    format!("{unknown:?} is not an entrant of either ruleset"),
                ));
            }
        }
        if self.target_setting.seeds.is_empty() || has_duplicate(&self.target_setting.seeds) {
            return Err(err(
                "target_setting.seeds",
                "at least one seed, none twice".into(),
            ));
        }
        if self
            .target_setting
            .seeds
            .contains(&self.target_setting.search_seed)
        {
            return Err(err(
                "target_setting.seeds",
                format!(
                    "{}: the search's seed; the reruns need fresh ones (the best trial was \
                     chosen for its run with that seed)",
                    self.target_setting.search_seed
                ),
            ));
        }
        Ok(())
    }

    /// The workloads named in `only` (all where it is empty), in the suite's order; a usage
    /// error for a name the suite lacks.
    pub fn workloads(&self, only: &[String]) -> Result<Vec<&Workload>> {
        for name in only {
            if !self.workloads.iter().any(|w| &w.name == name) {
                return Err(usage(format!(
                    "--workloads {name}: not in the suite; its workloads are: {}",
                    self.workloads
                        .iter()
                        .map(|w| w.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(self
            .workloads
            .iter()
            .filter(|w| only.is_empty() || only.contains(&w.name))
            .collect())
    }

    /// The variant tables of `entrant`'s first `trials` trials: `NAME@1`, `NAME@2`, ...
    pub fn trials(&self, entrant: &TunedEntrant, trials: usize) -> Result<Vec<Table>> {
        (1..=trials)
            .map(|k| {
                let mut table = entrant.variant.clone();
                table.insert(
                    "name".into(),
                    Value::String(format!("{}@{k}", entrant.name)),
                );
                for (dim, (path, range)) in entrant.space.iter().enumerate() {
                    let u =
                        sobol_burley::sample((k - 1) as u32, dim as u32, self.external_tuning.seed);
                    config::assign(&mut table, path, range.at(u)).map_err(|e| {
                        usage(format!(
                            "external_tuning.entrants.{}.space.\"{path}\": {e}",
                            entrant.name
                        ))
                    })?;
                }
                Ok(table)
            })
            .collect()
    }

    /// The external-tuning entrant named `name`.
    pub fn tuned(&self, name: &str) -> Option<&TunedEntrant> {
        self.external_tuning
            .entrants
            .iter()
            .find(|e| e.name == name)
    }

    /// The variants `ruleset` enters on every workload (target setting: the baselines'
    /// search trials).
    pub fn variants(&self, ruleset: Ruleset) -> Result<Vec<Table>> {
        match ruleset {
            Ruleset::SelfTuning => Ok(self.self_tuning.entrants.clone()),
            Ruleset::ExternalTuning => {
                let mut all = Vec::new();
                for e in &self.external_tuning.entrants {
                    all.extend(self.trials(e, self.external_tuning.trials)?);
                }
                Ok(all)
            }
            Ruleset::TargetSetting => {
                let mut all = Vec::new();
                for b in &self.target_setting.baselines {
                    if let Some(e) = self.tuned(b) {
                        all.extend(self.trials(e, self.target_setting.trials)?);
                    }
                }
                Ok(all)
            }
        }
    }

    /// Workload `w` as an experiment: `variants` with `seeds`, its budget times `factor`,
    /// its own `[quick]` applied when `quick` is set. `file` is the suite file (messages and
    /// the run's recorded source name it).
    pub fn experiment(
        &self,
        file: &Path,
        w: &Workload,
        variants: Vec<Table>,
        seeds: &[u64],
        factor: f64,
        quick: bool,
    ) -> Result<Plan> {
        let shown = format!("{} (workload {})", file.display(), w.name);
        let mut table = w.experiment.clone();
        let overrides = table.remove("quick");
        if quick && let Some(Value::Table(overrides)) = &overrides {
            config::apply_overrides(&mut table, overrides, &format!("{shown}: quick"))?;
        }
        let steps = steps_of(&table).map_err(|e| usage(format!("{shown}: {e}")))?;
        let scaled = ((steps as f64) * factor).round().max(1.0) as i64;
        config::assign(&mut table, "budget.steps", Value::Integer(scaled))
            .map_err(|e| usage(format!("{shown}: budget.steps: {e}")))?;
        table.insert("name".into(), Value::String(w.name.clone()));
        table.insert(
            "seeds".into(),
            Value::Array(seeds.iter().map(|&s| Value::Integer(s as i64)).collect()),
        );
        table.insert(
            "variants".into(),
            Value::Array(variants.into_iter().map(Value::Table).collect()),
        );
        let text = toml::to_string(&table)
            .map_err(|e| usage(format!("{shown}: cannot be written as an experiment: {e}")))?;
        config::parse(&text, Path::new(&shown), &[], None)
    }

    /// The experiments `ruleset` runs, one per workload of `only` (all where empty).
    /// Target setting: the searches (its reruns depend on their results).
    pub fn plans(
        &self,
        file: &Path,
        ruleset: Ruleset,
        only: &[String],
        quick: bool,
    ) -> Result<Vec<Plan>> {
        let variants = self.variants(ruleset)?;
        let (seeds, factor) = match ruleset {
            Ruleset::SelfTuning => (self.studies.clone(), SELF_TUNING_BUDGET),
            Ruleset::ExternalTuning => (self.studies.clone(), 1.0),
            Ruleset::TargetSetting => {
                (vec![self.target_setting.search_seed], TARGET_SETTING_BUDGET)
            }
        };
        if variants.is_empty() {
            return Err(usage(format!(
                "{}: the {} ruleset has no entrants",
                file.display(),
                ruleset.name()
            )));
        }
        let plans = self
            .workloads(only)?
            .into_iter()
            .map(|w| self.experiment(file, w, variants.clone(), &seeds, factor, quick))
            .collect::<Result<Vec<_>>>()?;
        if ruleset == Ruleset::TargetSetting {
            for p in &plans {
                target_metric(p)?;
            }
        }
        Ok(plans)
    }
}

/// The metric of `plan`'s target, where target setting can read its best value from each
/// run's record.
pub fn target_metric(plan: &Plan) -> Result<Metric> {
    let Some(target) = &plan.base.target else {
        return Err(usage(format!(
            "{}: has no [target]: a workload is scored by the time to one",
            plan.file.display()
        )));
    };
    if target.metric.measured() {
        return Err(usage(format!(
            "{}: target.metric = {}: target setting reads each run's best value of the metric, \
             which its record keeps for train_loss, val_loss, val_accuracy, test_loss and \
             test_accuracy",
            plan.file.display(),
            target.metric
        )));
    }
    Ok(target.metric)
}

/// `budget.steps` of `table` (after `[quick]`), required: the budgets scale it.
fn steps_of(table: &Table) -> std::result::Result<u64, String> {
    let steps = table
        .get("budget")
        .and_then(Value::as_table)
        .and_then(|b| b.get("steps"));
    match steps {
        Some(Value::Integer(n)) if *n > 0 => Ok(*n as u64),
        Some(other) => Err(format!("{other}: a whole number of steps > 0")),
        None => Err(
            "a workload's budget is `budget.steps` (the rulesets scale it: 1.5x self-tuning, \
             0.75x target setting)"
                .into(),
        ),
    }
}

fn has_duplicate<T: PartialEq>(items: &[T]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items[..i].contains(a))
}

impl Range {
    fn check(&self) -> std::result::Result<(), String> {
        match (self.min, self.max, &self.values) {
            (None, None, Some(values)) if !values.is_empty() && self.scale.is_none() => Ok(()),
            (Some(min), Some(max), None) => {
                if !(min.is_finite() && max.is_finite() && min <= max) {
                    return Err(format!("min {min}, max {max}: finite, min <= max"));
                }
                match self.scale.as_deref() {
                    None | Some("log") if min <= 0.0 => Err(format!(
                        "min {min}: a log scale needs min > 0 (or scale = \"linear\")"
                    )),
                    None | Some("log") | Some("linear") => Ok(()),
                    Some(other) => Err(format!("scale {other:?}: allowed: log, linear")),
                }
            }
            _ => Err(
                "give { min, max } (and scale = \"log\" or \"linear\") or { values = [...] }"
                    .into(),
            ),
        }
    }

    /// The value at `u` in [0, 1): log- or linearly interpolated, rounded to 4 significant
    /// digits, or the `floor(u n)`-th of the values.
    pub fn at(&self, u: f32) -> Value {
        let u = f64::from(u).clamp(0.0, 1.0);
        if let Some(values) = &self.values {
            let i = ((u * values.len() as f64) as usize).min(values.len() - 1);
            return values[i].clone();
        }
        let (min, max) = (self.min.unwrap_or(0.0), self.max.unwrap_or(0.0));
        let x = match self.scale.as_deref() {
            Some("linear") => min + u * (max - min),
            _ => (min.ln() + u * (max.ln() - min.ln())).exp(),
        };
        Value::Float(round_significant(x, 4).clamp(min, max))
    }
}

fn round_significant(x: f64, digits: usize) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.*e}", digits - 1).parse().unwrap_or(x)
}

/// The directory a ruleset's experiments go to: `OUT/SUITE/RULESET`.
pub fn ruleset_dir(out: &Path, suite: &Suite, ruleset: Ruleset) -> PathBuf {
    out.join(&suite.name).join(ruleset.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(min: f64, max: f64, scale: &str) -> Range {
        Range {
            min: Some(min),
            max: Some(max),
            scale: Some(scale.into()),
            values: None,
        }
    }

    #[test]
    fn ranges_map_the_unit_interval_onto_their_scale() {
        let log = range(1e-4, 1e-1, "log");
        assert_eq!(log.at(0.0), Value::Float(1e-4));
        assert_eq!(log.at(1.0), Value::Float(0.1));
        // The middle of a log range is the geometric mean.
        assert_eq!(log.at(0.5), Value::Float(0.003162));
        let linear = range(0.8, 0.99, "linear");
        assert_eq!(linear.at(0.5), Value::Float(0.895));
        let set = Range {
            min: None,
            max: None,
            scale: None,
            values: Some(vec![Value::Float(0.0), Value::Float(0.1)]),
        };
        assert_eq!(set.at(0.49), Value::Float(0.0));
        assert_eq!(set.at(0.5), Value::Float(0.1));
        assert_eq!(set.at(1.0), Value::Float(0.1));
        assert!(range(0.0, 1.0, "log").check().is_err());
        assert!(range(1.0, 0.5, "linear").check().is_err());
        assert!(range(0.1, 0.5, "cubic").check().is_err());
    }
}
