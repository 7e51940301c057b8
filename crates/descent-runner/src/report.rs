//! `report.html`: one self-contained page per experiment, readable offline without
//! JavaScript: what was run and how to rerun it, the summary tables (mean ± std, 95% CI,
//! min, max over seeds), every plot inline, and the resolved config.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine as _;
use pulldown_cmark::{Event, Options, Parser};
use pulldown_cmark_escape::escape_html;

use crate::output;
use crate::run_files::ExperimentDir;

const STYLE: &str = "
body { font-family: 'DejaVu Sans', sans-serif; max-width: 1180px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
.description { color: #444; font-size: 1.1em; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f2f2f2; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; }
figure svg, figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.88em; }
code { background: #f2f2f2; padding: 0 0.2em; }
";

fn escaped(text: &str) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = escape_html(&mut out, text);
    out
}

/// The `# key: value` lines `config.toml` starts with (git revision, machine, ...).
pub(crate) fn provenance(config: &str) -> Vec<(String, String)> {
    config
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.trim_start_matches('#').trim().split_once(": ")?;
            (!key.contains(' ')).then(|| (key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Above this size an SVG is inlined as its PNG instead: a plot of thousands of noisy steps
/// per curve runs to megabytes as vector paths, a twentieth of that as pixels.
const SVG_INLINE_LIMIT: u64 = 1_500_000;

/// The plot as HTML: the SVG file's `<svg>` element (without its XML prolog), or for a
/// large one its PNG beside it as a data URI.
fn inline_plot(svg: &Path) -> Result<String> {
    let size = std::fs::metadata(svg)
        .with_context(|| format!("reading {}", svg.display()))?
        .len();
    let png = svg.with_extension("png");
    if size > SVG_INLINE_LIMIT && png.is_file() {
        let bytes = std::fs::read(&png).with_context(|| format!("reading {}", png.display()))?;
        return Ok(format!(
            "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
            escaped(
                &png.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ),
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ));
    }
    let text =
        std::fs::read_to_string(svg).with_context(|| format!("reading {}", svg.display()))?;
    let start = text.find("<svg").unwrap_or(0);
    Ok(text[start..].to_owned())
}

/// A page's HTML up to its last section (the caller closes `</body></html>`): the title and
/// description, a table of how it was run (`rows`, the value shown as code), `markdown` under
/// the heading `section` (any HTML in it shown as text), and every plot inline (`plots`, SVG
/// files in `plots/` beside the page).
pub fn page(
    title: &str,
    description: &str,
    rows: &[(String, String)],
    section: &str,
    markdown: &str,
    plots: &[PathBuf],
) -> Result<String> {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>descent: {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>{title}</h1>\n<p class=\"description\">{description}</p>\n",
        title = escaped(title),
        description = escaped(description),
    );
    html.push_str("<h2>How it was run</h2>\n<table class=\"provenance\">\n");
    for (key, value) in rows {
        let value = if key == "rerun" {
            format!("<code>{}</code>", escaped(value))
        } else {
            escaped(value)
        };
        html.push_str(&format!(
            "<tr><th>{}</th><td>{value}</td></tr>\n",
            escaped(key)
        ));
    }
    html.push_str("</table>\n");
    html.push_str(&format!("<h2>{}</h2>\n", escaped(section)));
    // Names in the tables come from the user's files: any HTML in them is shown as text.
    let events = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    pulldown_cmark::html::push_html(&mut html, events);
    html.push_str("<h2>Plots</h2>\n");
    for plot in plots {
        let caption = plot
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        html.push_str(&format!(
            "<figure id=\"{id}\">\n{svg}\n<figcaption>{id} (<a href=\"plots/{id}.png\">PNG</a>, \
             <a href=\"plots/{id}.svg\">SVG</a>)</figcaption>\n</figure>\n",
            id = escaped(&caption),
            svg = inline_plot(plot)?,
        ));
    }
    Ok(html)
}

/// Writes `<dir>/report.html` from its `config.toml`, `summary.md` and the
/// SVG `plots` (in the order given); returns its path.
pub fn write(dir: &Path, plots: &[PathBuf]) -> Result<PathBuf> {
    let experiment = ExperimentDir::new(dir);
    let config = experiment.text("config.toml")?;
    let summary_md = experiment.text("summary.md")?;
    // The resolved experiment names and describes itself.
    let table = toml::from_str::<toml::Table>(&config).ok();
    let field = |key: &str| {
        table
            .as_ref()
            .and_then(|t| t.get(key)?.as_str().map(str::to_owned))
    };
    let name = field("name").unwrap_or_else(|| "experiment".into());
    let description = field("description").unwrap_or_default();

    let mut rows = vec![(
        "rerun".to_owned(),
        format!("descent run {}", dir.join("config.toml").display()),
    )];
    rows.extend(
        provenance(&config)
            .into_iter()
            .map(|(key, value)| (key.replace('_', " "), value)),
    );
    // summary.md without its title and description, which the page already has.
    let body = summary_md
        .lines()
        .skip_while(|l| !l.starts_with("mean ± std"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut html = page(&name, &description, &rows, "Summary", &body, plots)?;
    html.push_str("<h2>Resolved configuration</h2>\n<pre>");
    html.push_str(&escaped(&config));
    html.push_str("</pre>\n</body>\n</html>\n");

    let path = dir.join("report.html");
    output::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_reads_the_config_header() {
        let config = "# Resolved experiment, as run. Rerun with `descent run <this file>`.\n\
                      # backend: ndarray\n# git_revision: abc\n\nname = \"x\"\n# later: no\n";
        assert_eq!(
            provenance(config),
            [
                ("backend".to_owned(), "ndarray".to_owned()),
                ("git_revision".to_owned(), "abc".to_owned())
            ]
        );
    }

    #[test]
    fn html_in_an_experiment_file_stays_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "# backend: ndarray\nname = \"x\"\ndescription = \"<b>bold</b>\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("summary.md"),
            "# x\n\nmean ± std over seeds\n\n| variant |\n|---|\n| <script>alert(1)</script> |\n",
        )
        .unwrap();
        let html = std::fs::read_to_string(write(dir.path(), &[]).unwrap()).unwrap();
        assert!(
            !html.contains("<script>") && html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>bold") && html.contains("&lt;b&gt;bold"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escaped("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
    }
}
