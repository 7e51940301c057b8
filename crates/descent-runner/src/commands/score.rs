//! `descent score`: a leaderboard of optimizers over several workloads, by the rules of
//! MLCommons AlgoPerf ([`descent_score`]), with bootstrap intervals.
//!
//! Each directory is a finished experiment, one workload, whose file has a `[target]`: its
//! variants (at each sweep point) are the entrants, matched across workloads by name, and its
//! seeds the studies. A run's time to target is what it recorded (`steps_to_target` or
//! `seconds_to_target`: its first evaluation at or past the target); a run that missed it or
//! diverged counts as a miss. An entrant absent from a workload misses it.
//!
//! Two rulesets, AlgoPerf's: under self-tuning (the default) each variant is an entrant and
//! each of its runs a study; under external tuning a variant `ENTRANT@K` is trial K of
//! ENTRANT (a point of its search space, as `descent benchmark` names them) and a study's
//! time is the fastest of its trials with that seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use descent_score::interval::{Bootstrap, StudyTimes};
use descent_score::profile::{Profiles, Settings};
use serde::Serialize;

use crate::error::usage;
use crate::experiment;
use crate::output;
use crate::plots::{self, ProfileLine};
use crate::run_files::ExperimentDir;
use crate::state::Outcome;

/// `descent score`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ScoreArgs {
    /// Experiment directories, one per workload (each with a `[target]`).
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Where score.md, score.json and plots/ go (default: `score/` beside the first directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Time to target in optimizer steps (the same on every machine) or training seconds.
    #[arg(long, value_enum, default_value_t = ClockArg::Steps)]
    pub clock: ClockArg,
    /// Bootstrap resamples of the studies for the intervals.
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// How runs make studies: one run per study (self-tuning), or trials `ENTRANT@K` whose
    /// fastest per seed is the study's time (external tuning).
    #[arg(long, value_enum, default_value_t = Ruleset::SelfTuning)]
    pub ruleset: Ruleset,
}

/// AlgoPerf's tuning rulesets, as far as scoring sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ruleset {
    /// Each variant is an entrant, each of its runs (seeds) a study.
    SelfTuning,
    /// Variants `ENTRANT@K` are the trials of ENTRANT; a study (a seed) takes its fastest.
    ExternalTuning,
}

impl Ruleset {
    /// The name used in flags and directory names.
    pub fn name(self) -> &'static str {
        match self {
            Ruleset::SelfTuning => "self-tuning",
            Ruleset::ExternalTuning => "external-tuning",
        }
    }
}

/// The entrant and trial of an external-tuning variant `ENTRANT@K`.
pub fn trial_of(variant: &str) -> Option<(&str, usize)> {
    let (entrant, trial) = variant.rsplit_once('@')?;
    let trial = trial.parse().ok()?;
    (!entrant.is_empty()).then_some((entrant, trial))
}

/// `--clock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockArg {
    /// Optimizer steps.
    Steps,
    /// Training seconds (evaluations excluded).
    Seconds,
}

/// One workload's times: `studies[entrant]` (infinite: a miss), and what it was scored on.
struct Workload {
    name: String,
    target: String,
    studies: BTreeMap<String, Vec<f64>>,
}

/// What `descent score` writes to score.json.
#[derive(Debug, Serialize)]
pub struct Leaderboard {
    /// The clock times are read on.
    pub clock: ClockArg,
    /// How runs made studies.
    pub ruleset: Ruleset,
    /// The workloads, in the order given, with their targets.
    pub workloads: Vec<(String, String)>,
    /// Entrants, best score first.
    pub entrants: Vec<Entry>,
    /// The grid of `tau` the profiles are evaluated on.
    pub taus: Vec<f64>,
    /// Resamples behind the intervals.
    pub resamples: usize,
}

/// One entrant's line of the leaderboard.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// The variant's name (with its sweep point, if the experiment swept one).
    pub name: String,
    /// The area under its profile over `max_tau - 1`.
    pub score: f64,
    /// The 95% bootstrap interval of the score.
    pub interval: (f64, f64),
    /// Per workload: the median time to target over studies (`None`: a miss).
    pub times: Vec<Option<f64>>,
    /// Per workload: the time over the best entrant's (`None`: a miss, or beyond 4x).
    pub ratios: Vec<Option<f64>>,
    /// Per workload: the studies that reached the target, and the studies (0 of 0: the
    /// entrant did not run on it, which counts as a miss).
    pub reached: Vec<(usize, usize)>,
    /// Per workload: each study's time to target (`None`: it missed; empty: not run).
    pub studies: Vec<Vec<Option<f64>>>,
    /// Its profile on [`Leaderboard::taus`].
    pub profile: Vec<f64>,
}

/// Runs `descent score`.
pub fn execute(args: &ScoreArgs) -> Result<()> {
    let board = score(&args.dirs, args.clock, args.resamples, args.ruleset)?;
    let out = match &args.out {
        Some(out) => out.clone(),
        None => args.dirs[0]
            .parent()
            .map_or_else(|| PathBuf::from("score"), |p| p.join("score")),
    };
    let rerun = crate::provenance::command_line().join(" ");
    let page = Page {
        title: "score".to_owned(),
        description: format!(
            "{} entrants on {} workloads, {} ruleset",
            board.entrants.len(),
            board.workloads.len(),
            board.ruleset.name()
        ),
        rows: vec![("rerun".to_owned(), rerun)],
    };
    let files = write(&out, &board, &page)?;
    print!("{}", markdown(&board));
    for file in files {
        println!("wrote {}", file.display());
    }
    Ok(())
}

/// The leaderboard of the experiments in `dirs`.
pub fn score(
    dirs: &[PathBuf],
    clock: ClockArg,
    resamples: usize,
    ruleset: Ruleset,
) -> Result<Leaderboard> {
    let workloads = dirs
        .iter()
        .map(|dir| workload(dir, clock, ruleset))
        .collect::<Result<Vec<_>>>()?;
    for (i, w) in workloads.iter().enumerate() {
        if workloads[..i].iter().any(|earlier| earlier.name == w.name) {
            return Err(usage(format!(
                "two directories hold the experiment {:?}: each workload is scored once \
                 (merge shards with `descent merge` first)",
                w.name
            )));
        }
    }
    let mut entrants: Vec<String> = Vec::new();
    for w in &workloads {
        for name in w.studies.keys() {
            if !entrants.contains(name) {
                entrants.push(name.clone());
            }
        }
    }
    let run: Vec<Vec<Vec<f64>>> = entrants
        .iter()
        .map(|e| {
            workloads
                .iter()
                .map(|w| w.studies.get(e).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    // An entrant absent from a workload missed it (AlgoPerf: no time is a miss).
    let studies: Vec<Vec<Vec<f64>>> = run
        .iter()
        .map(|row| {
            row.iter()
                .map(|s| {
                    if s.is_empty() {
                        vec![f64::INFINITY]
                    } else {
                        s.clone()
                    }
                })
                .collect()
        })
        .collect();
    let names: Vec<String> = workloads.iter().map(|w| w.name.clone()).collect();
    let table = StudyTimes::new(entrants.clone(), names.clone(), studies.clone())
        .map_err(|e| usage(e.to_string()))?;
    let settings = Settings::default();
    let bootstrap = Bootstrap {
        resamples,
        ..Bootstrap::default()
    };
    let intervals = table
        .scores(settings, bootstrap)
        .map_err(|e| usage(format!("--resamples {resamples}: {e}")))?;
    let medians = table.medians().map_err(|e| usage(e.to_string()))?;
    let profiles = Profiles::new(&medians, settings).map_err(|e| usage(e.to_string()))?;
    let finite = |v: f64| v.is_finite().then_some(v);
    let mut entries: Vec<Entry> = entrants
        .iter()
        .enumerate()
        .map(|(i, name)| Entry {
            name: name.clone(),
            score: intervals[i].score,
            interval: (intervals[i].low, intervals[i].high),
            times: medians.row(i).iter().map(|&t| finite(t)).collect(),
            ratios: profiles.ratios()[i].iter().map(|&r| finite(r)).collect(),
            reached: run[i]
                .iter()
                .map(|s| (s.iter().filter(|t| t.is_finite()).count(), s.len()))
                .collect(),
            studies: run[i]
                .iter()
                .map(|s| s.iter().map(|&t| finite(t)).collect())
                .collect(),
            profile: profiles.rho(i).to_vec(),
        })
        .collect();
    entries.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.name.cmp(&b.name)));
    Ok(Leaderboard {
        clock,
        ruleset,
        workloads: workloads.into_iter().map(|w| (w.name, w.target)).collect(),
        entrants: entries,
        taus: profiles.taus().to_vec(),
        resamples,
    })
}

/// A workload: the runs of the experiment in `dir`, by entrant, and its target.
fn workload(dir: &Path, clock: ClockArg, ruleset: Ruleset) -> Result<Workload> {
    let runs = ExperimentDir::new(dir).runs()?;
    if runs.is_empty() {
        return Err(usage(format!(
            "{}: holds no finished runs (no subdirectory has a run.json)",
            dir.display()
        )));
    }
    let (plan, run_plan) = experiment::recorded(dir)?;
    // An interrupted experiment would be scored on the seeds that happened to finish.
    if run_plan.runs.len() > runs.len() {
        return Err(usage(format!(
            "{}: {} of its {} runs have not finished; finish them first (`descent resume {}`)",
            dir.display(),
            run_plan.runs.len() - runs.len(),
            run_plan.runs.len(),
            dir.display()
        )));
    }
    let Some(target) = experiment::target_text(&plan) else {
        return Err(usage(format!(
            "{}: its experiment has no [target]; a workload is scored by the time its runs \
             take to reach one (e.g. [target] metric = \"val_accuracy\", value = 0.97)",
            dir.display()
        )));
    };
    let name = plan.name;
    // Entrant, then seed: the study's time (the fastest of its trials).
    let mut by_seed: BTreeMap<String, BTreeMap<u64, f64>> = BTreeMap::new();
    for run in runs {
        let record = run.record;
        let variant = match ruleset {
            Ruleset::SelfTuning => record.variant.as_str(),
            Ruleset::ExternalTuning => match trial_of(&record.variant) {
                Some((entrant, _)) => entrant,
                None => {
                    return Err(usage(format!(
                        "{}: variant {:?} is not a trial: under external tuning a variant is \
                         named ENTRANT@K (trial K of ENTRANT), as `descent benchmark` names them",
                        dir.display(),
                        record.variant
                    )));
                }
            },
        };
        let entrant = if record.point.label.is_empty() {
            variant.to_owned()
        } else {
            format!("{variant} ({})", record.point.label)
        };
        if record.steps_to_target == Some(0) {
            return Err(usage(format!(
                "{}: run {} met the target ({target}) at step 0, before any optimizer step; \
                 a target met at initialisation cannot rank optimizers: make it harder",
                dir.display(),
                record.run_id
            )));
        }
        // A run that diverged is a miss even where it passed the target first.
        let reached = match record.status {
            Outcome::Diverged => None,
            _ => match clock {
                ClockArg::Steps => record.steps_to_target.map(|s| s as f64),
                ClockArg::Seconds => record.seconds_to_target,
            },
        };
        let time = reached.filter(|t| *t > 0.0).unwrap_or(f64::INFINITY);
        let study = by_seed
            .entry(entrant)
            .or_default()
            .entry(record.seed)
            .or_insert(f64::INFINITY);
        *study = study.min(time);
    }
    let studies = by_seed
        .into_iter()
        .map(|(entrant, seeds)| (entrant, seeds.into_values().collect()))
        .collect();
    Ok(Workload {
        name,
        target,
        studies,
    })
}

/// What report.html says about a score besides its table and plots.
pub struct Page {
    /// Its title.
    pub title: String,
    /// One line under it.
    pub description: String,
    /// How it was run: (what, value); a `rerun` row shows as code.
    pub rows: Vec<(String, String)>,
}

/// score.md, score.json, plots/ (the profiles, and each workload's time to target) and
/// report.html in `out`; returns the files.
pub fn write(out: &Path, board: &Leaderboard, page: &Page) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let md = out.join("score.md");
    output::write_atomic(&md, markdown(board).as_bytes())?;
    let json = out.join("score.json");
    output::write_atomic(&json, &serde_json::to_vec_pretty(board)?)?;
    let lines: Vec<ProfileLine> = board
        .entrants
        .iter()
        .map(|e| ProfileLine {
            name: &e.name,
            score: format!("{:.3} [{:.3}, {:.3}]", e.score, e.interval.0, e.interval.1),
            rho: &e.profile,
        })
        .collect();
    let title = format!(
        "performance profiles: {} workloads, time to target in {}",
        board.workloads.len(),
        clock_name(board.clock)
    );
    let mut files = vec![md, json];
    files.extend(plots::performance_profiles(
        &out.join("plots"),
        &title,
        &board.taus,
        &lines,
    )?);
    for (w, (name, target)) in board.workloads.iter().enumerate() {
        let times: Vec<Vec<f64>> = board
            .entrants
            .iter()
            .map(|e| {
                e.studies[w]
                    .iter()
                    .map(|t| t.unwrap_or(f64::INFINITY))
                    .collect()
            })
            .collect();
        let entrants: Vec<(&str, &[f64])> = board
            .entrants
            .iter()
            .zip(&times)
            .filter(|(_, t)| !t.is_empty())
            .map(|(e, t)| (e.name.as_str(), t.as_slice()))
            .collect();
        files.extend(plots::time_to_target(
            &out.join("plots"),
            name,
            &format!("{} to {target}", clock_name(board.clock)),
            &entrants,
        )?);
    }
    let svgs: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "svg"))
        .cloned()
        .collect();
    let mut html = crate::report::page(
        &page.title,
        &page.description,
        &page.rows,
        "Leaderboard",
        &markdown(board),
        &svgs,
    )?;
    html.push_str("</body>\n</html>\n");
    let report = out.join("report.html");
    output::write_atomic(&report, html.as_bytes())?;
    files.push(report);
    Ok(files)
}

fn clock_name(clock: ClockArg) -> &'static str {
    match clock {
        ClockArg::Steps => "steps",
        ClockArg::Seconds => "seconds",
    }
}

/// The leaderboard as a Markdown table: score with its interval, then per workload the
/// median time to target, its ratio to the best, and the studies that reached it.
pub fn markdown(board: &Leaderboard) -> String {
    let mut text = format!(
        "Score: the area under each entrant's performance profile (fraction of workloads \
         solved within tau times the best time, tau from 1 to 4), divided by 3; 1 = fastest \
         everywhere. Time to target in {}: median over studies (seeds){}, a miss unless more \
         than half reached it; a time over 4x the best is a miss. Interval: 95% bootstrap over studies \
         ({} resamples).\n\n",
        clock_name(board.clock),
        match board.ruleset {
            Ruleset::SelfTuning => ", one run each (self-tuning)",
            Ruleset::ExternalTuning =>
                ", each the fastest of its trials (external tuning: one run per trial and seed)",
        },
        board.resamples
    );
    text.push_str("| entrant | score | 95% interval |");
    for (name, target) in &board.workloads {
        text.push_str(&format!(" {name} ({target}) |"));
    }
    text.push_str("\n|---|---|---|");
    text.push_str(&"---|".repeat(board.workloads.len()));
    text.push('\n');
    for e in &board.entrants {
        text.push_str(&format!(
            "| {} | {:.3} | {:.3}-{:.3} |",
            e.name, e.score, e.interval.0, e.interval.1
        ));
        for ((time, ratio), (reached, studies)) in e.times.iter().zip(&e.ratios).zip(&e.reached) {
            let cell = match (time, ratio) {
                (Some(t), Some(r)) => format!("{} ({r:.2}x)", time_text(*t, board.clock)),
                (Some(t), None) => format!("{} (> 4x)", time_text(*t, board.clock)),
                (None, _) if *studies == 0 => "not run".to_owned(),
                (None, _) => "miss".to_owned(),
            };
            text.push_str(&format!(" {cell}, {reached}/{studies} |"));
        }
        text.push('\n');
    }
    text
}

fn time_text(time: f64, clock: ClockArg) -> String {
    match clock {
        ClockArg::Steps => format!("{time:.0}"),
        ClockArg::Seconds => format!("{time:.3} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_are_named_entrant_at_k() {
        assert_eq!(trial_of("adam@3"), Some(("adam", 3)));
        assert_eq!(trial_of("a@b@12"), Some(("a@b", 12)));
        for not_a_trial in ["adam", "adam@", "@3", "adam@x", "adam@-1"] {
            assert_eq!(trial_of(not_a_trial), None, "{not_a_trial}");
        }
    }
}
