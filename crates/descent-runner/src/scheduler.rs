//! Job files for cluster schedulers: an experiment's runs spread over N shards
//! (`descent run --shard I/N`), as a Slurm job array or a Kubernetes Indexed Job, with the
//! `descent merge` that joins them.
//!
//! The layout, under the run's `--out` directory `OUT`:
//!
//! ```text
//! OUT/NAME.slurm.sh            the job array (or OUT/NAME.k8s.yaml)
//! OUT/NAME-shards/I/NAME/      shard I's experiment directory
//! OUT/NAME-shards/logs/        one log per array task (Slurm)
//! OUT/NAME/                    after `descent merge`: the experiment as one run writes it
//! ```
//!
//! A shard whose task was killed is continued by running the same task again: `descent run
//! --shard I/N` on an existing shard directory of the same configuration finishes it.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

use crate::error::usage;

/// The schedulers a job file can be written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheduler {
    /// A Slurm job array script (`sbatch OUT/NAME.slurm.sh`).
    Slurm,
    /// A Kubernetes Indexed Job with the experiment file in a ConfigMap
    /// (`kubectl apply -f OUT/NAME.k8s.yaml`).
    Kubernetes,
}

impl Scheduler {
    /// The job file's path for experiment `name` under `out`.
    pub fn file(self, out: &Path, name: &str) -> PathBuf {
        match self {
            Scheduler::Slurm => out.join(format!("{name}.slurm.sh")),
            Scheduler::Kubernetes => out.join(format!("{name}.k8s.yaml")),
        }
    }

    /// Writes the job file for `job` and returns its path and the lines telling the user
    /// what to do next.
    pub fn write(self, job: &ShardedJob) -> Result<(PathBuf, Vec<String>)> {
        job.check()?;
        let path = self.file(&job.out, &job.name);
        let (text, next) = match self {
            Scheduler::Slurm => {
                // Slurm does not create the directory of a job's --output: the tasks would
                // fail before they start.
                let logs = job.shards_dir().join("logs");
                std::fs::create_dir_all(&logs)
                    .map_err(|e| anyhow!("cannot create {}: {e}", logs.display()))?;
                let next = vec![
                    format!("submit: sbatch {}", quote_path(&path)?),
                    format!("then:   {}", job.merge_command()?),
                ];
                (slurm_script(job)?, next)
            }
            Scheduler::Kubernetes => {
                let next = vec![
                    format!("submit: kubectl apply -f {}", quote_path(&path)?),
                    format!(
                        "then, where the results volume is mounted at {}: {}",
                        KUBERNETES_RESULTS,
                        kubernetes_merge_command(job)?
                    ),
                ];
                (kubernetes_manifest(job)?, next)
            }
        };
        crate::output::write_atomic(&path, text.as_bytes())?;
        Ok((path, next))
    }
}

/// An experiment to spread over shards: what `descent run` was asked, with absolute paths.
#[derive(Clone, Debug)]
pub struct ShardedJob {
    /// The experiment's name (its directory name).
    pub name: String,
    /// How many runs the experiment has.
    pub runs: usize,
    /// How many shards (array tasks).
    pub shards: usize,
    /// The `descent` binary.
    pub program: PathBuf,
    /// The directory the tasks start in (the one `descent run --emit` was called from).
    pub workdir: PathBuf,
    /// The experiment file.
    pub file: PathBuf,
    /// The experiment file's text (carried in the Kubernetes manifest).
    pub file_text: String,
    /// `--out`: where the job file, the shards and the merged experiment go.
    pub out: PathBuf,
    /// The options every shard's `descent run` repeats (backend, precision, seeds, sets...).
    pub run_options: Vec<String>,
}

impl ShardedJob {
    /// A usage error unless the job can be written: 1 to `runs` shards, and names and paths
    /// that Slurm's `#SBATCH` lines and Kubernetes take as they are (no quoting exists there).
    pub fn check(&self) -> Result<()> {
        if self.shards == 0 || self.shards > self.runs {
            return Err(usage(format!(
                "--shards {}: between 1 and the experiment's {} runs",
                self.shards, self.runs
            )));
        }
        let plain = |c: char| c.is_ascii_alphanumeric() || "._-+".contains(c);
        if !self.name.chars().all(plain) {
            return Err(usage(format!(
                "experiment name {:?}: --emit needs a name of letters, digits and . _ - + only \
                 (it names the job, its files and its directories)",
                self.name
            )));
        }
        for path in [&self.out, &self.workdir] {
            let text = path.to_string_lossy();
            if text.contains(|c: char| c.is_whitespace() || c.is_control() || "%#\"'".contains(c)) {
                return Err(usage(format!(
                    "{}: --emit needs paths without spaces, quotes, % or # (Slurm's #SBATCH \
                     lines cannot quote them); choose another --out or working directory",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// `OUT/NAME-shards`.
    pub fn shards_dir(&self) -> PathBuf {
        self.out.join(format!("{}-shards", self.name))
    }

    /// The `descent merge` that joins the shards into `OUT/NAME`.
    pub fn merge_command(&self) -> Result<String> {
        Ok(format!(
            "{} merge {}/*/{} --out {}",
            quote_path(&self.program)?,
            quote_path(&self.shards_dir())?,
            quote(&self.name)?,
            quote_path(&self.out.join(&self.name))?
        ))
    }
}

fn quote(text: &str) -> Result<Cow<'_, str>> {
    shlex::try_quote(text).map_err(|e| anyhow!("{text:?} cannot be quoted for a shell: {e}"))
}

fn quote_path(path: &Path) -> Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| anyhow!("{}: not valid UTF-8", path.display()))?;
    Ok(quote(text)?.into_owned())
}

fn quoted_options(job: &ShardedJob) -> Result<String> {
    Ok(job
        .run_options
        .iter()
        .map(|o| quote(o).map(Cow::into_owned))
        .collect::<Result<Vec<_>>>()?
        .join(" "))
}

/// The Slurm job array: one task per shard, each running `descent run --shard I/N` into its
/// own directory; the `#SBATCH` resource lines are meant to be edited.
pub fn slurm_script(job: &ShardedJob) -> Result<String> {
    job.check()?;
    let script = Scheduler::Slurm.file(&job.out, &job.name);
    let merge = job.merge_command()?;
    let shards = job.shards_dir();
    let last = job.shards - 1;
    let options = quoted_options(job)?;
    let options = if options.is_empty() {
        String::new()
    } else {
        format!(" {options}")
    };
    Ok(format!(
        r#"#!/bin/bash
# descent: experiment "{name}" ({runs} runs) as a Slurm job array of {n} shards, written by
# `descent run --emit slurm --shards {n}`. Edit the #SBATCH lines to fit the cluster.
#
# Submit:
#   sbatch {script}
# When every task is done, join the shards into one experiment directory:
#   {merge}
# Or both at once (the merge waits for the array; if a task fails it waits for good:
# scancel it, resubmit the task, merge by hand):
#   jid=$(sbatch --parsable {script}) && sbatch --dependency=afterok:$jid --wrap {wrapped_merge}
#
# Task I runs the runs whose index is I modulo {n} into {shards}/I/{name}/
# and logs to {shards}/logs/<job>_I.out. A task that failed or was cancelled keeps its
# checkpoints: resubmit its index (sbatch --array=I {script}) and it continues where it
# stopped.
#SBATCH --job-name=descent-{name}
#SBATCH --array=0-{last}
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=2G
#SBATCH --time=1-00:00:00
#SBATCH --chdir={workdir}
#SBATCH --output={shards}/logs/%A_%a.out
set -euo pipefail
exec {program} run {file} --quiet \
    --out {shards}/"$SLURM_ARRAY_TASK_ID" \
    --shard "$SLURM_ARRAY_TASK_ID/{n}" \
    --jobs "${{SLURM_CPUS_PER_TASK:-1}}"{options}
"#,
        name = job.name,
        runs = job.runs,
        n = job.shards,
        script = quote_path(&script)?,
        wrapped_merge = quote(&merge)?,
        shards = quote_path(&shards)?,
        workdir = quote_path(&job.workdir)?,
        program = quote_path(&job.program)?,
        file = quote_path(&job.file)?,
    ))
}

/// Where the Kubernetes job mounts the experiment file and the results volume.
const KUBERNETES_EXPERIMENT: &str = "/experiment";
const KUBERNETES_RESULTS: &str = "/results";

/// A name Kubernetes accepts (RFC 1123 label: lowercase letters, digits and `-`, at most 63).
fn kubernetes_name(name: &str) -> String {
    let mut label: String = format!("descent-{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    label.truncate(63);
    label.trim_end_matches('-').to_string()
}

fn kubernetes_merge_command(job: &ShardedJob) -> Result<String> {
    Ok(format!(
        "descent merge {results}/{name}-shards/*/{name} --out {results}/{name}",
        results = KUBERNETES_RESULTS,
        name = quote(&job.name)?
    ))
}

/// The ConfigMap's key for the experiment file, and its file name in the container
/// (ConfigMap keys allow only letters, digits, `-`, `_` and `.`, so not the file's own name).
const KUBERNETES_FILE: &str = "experiment.toml";

/// The arguments of the Kubernetes container's `descent`, `$(SHARD)` standing for the
/// completion index (Kubernetes substitutes it from the container's environment).
pub fn kubernetes_args(job: &ShardedJob) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        format!("{KUBERNETES_EXPERIMENT}/{KUBERNETES_FILE}"),
        "--quiet".into(),
        "--out".into(),
        format!("{KUBERNETES_RESULTS}/{}-shards/$(SHARD)", job.name),
        "--shard".into(),
        format!("$(SHARD)/{}", job.shards),
        "--jobs".into(),
        "1".into(),
    ];
    args.extend(job.run_options.iter().cloned());
    args
}

/// The Kubernetes Indexed Job: a ConfigMap with the experiment file and a Job of N
/// completions, each pod running one shard into a shared volume. Written, not run, here:
/// the image, the volume claim and the resources are the user's to set.
pub fn kubernetes_manifest(job: &ShardedJob) -> Result<String> {
    job.check()?;
    let name = kubernetes_name(&job.name);
    Ok(format!(
        r#"# descent: experiment "{experiment}" ({runs} runs) as a Kubernetes Indexed Job of {n} shards.
# Written by `descent run --emit kubernetes --shards {n}`. Edit: the image (it needs `descent`
# on its PATH), the volume claim that holds the results, the resources.
#
#   submit:  kubectl apply -f {experiment}.k8s.yaml
#   then, with the results volume mounted at {results}: {merge}
#
# Pod I writes {results}/{experiment}-shards/I/{experiment}/. A failed pod is replaced by one
# with the same index, which continues the shard from its checkpoints.
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  {file_key}: {file_text}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  completionMode: Indexed
  completions: {n}
  parallelism: {n}
  backoffLimit: {backoff}
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: descent
          image: descent:latest
          command: ["descent"]
          args: {args}
          env:
            - name: SHARD
              valueFrom:
                fieldRef:
                  fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
          resources:
            requests:
              cpu: "1"
              memory: 2Gi
          volumeMounts:
            - name: experiment
              mountPath: {experiment_dir}
              readOnly: true
            - name: results
              mountPath: {results}
      volumes:
        - name: experiment
          configMap:
            name: {name}
        - name: results
          persistentVolumeClaim:
            claimName: descent-results
"#,
        experiment = job.name,
        runs = job.runs,
        n = job.shards,
        results = KUBERNETES_RESULTS,
        experiment_dir = KUBERNETES_EXPERIMENT,
        merge = kubernetes_merge_command(job)?,
        file_key = KUBERNETES_FILE,
        file_text = json(job.file_text.as_str())?,
        args = json(&kubernetes_args(job))?,
        backoff = 2 * job.shards,
    ))
}

/// `value` as one line of JSON: JSON strings and arrays are YAML too, and quote everything a
/// TOML file may hold.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value)?)
}
