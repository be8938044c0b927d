//! The pack's page assembly: sections of Markdown with their charts, put together as one
//! self-contained `index.html` (inline SVG, inline style, no scripts, no network) and one
//! `report.md`.
//!
//! Safety: the HTML is rendered from the Markdown by pulldown-cmark with every raw HTML
//! fragment turned into text (so a `<script>` in an account id or segment name shows as
//! text) and every link that is not a plain relative file name dropped to its text.
//! The SVGs are inlined as produced by plotters, which escapes text for XML.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

use super::calibration::md_cell;

/// A section of the pack: a Markdown body and the charts shown under it.
#[derive(Debug, Clone)]
pub struct Section {
    /// Anchor id (ASCII, fixed by the code).
    pub id: &'static str,
    /// Heading.
    pub title: String,
    /// Markdown body (headings inside start at level 3).
    pub markdown: String,
    /// (file name, SVG text) of the section's charts.
    pub charts: Vec<(String, String)>,
}

/// Markdown headings moved down so that a sub-report's `#` becomes `level`.
pub fn demote(markdown: &str, level: usize) -> String {
    let mut out = String::with_capacity(markdown.len() + 64);
    let mut fence = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fence = !fence;
        }
        if !fence && line.starts_with('#') {
            let hashes = line.chars().take_while(|&c| c == '#').count();
            if line[hashes..].starts_with(' ') {
                out.push_str(&"#".repeat((hashes + level - 1).min(6)));
                out.push_str(&line[hashes..]);
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The whole pack as Markdown: title, summary, then each section with links to its charts.
pub fn markdown(title: &str, summary: &str, sections: &[Section]) -> String {
    let mut s = format!("# {}\n\n{}\n", md_cell(title), summary);
    s.push_str("\n## Contents\n\n");
    for sec in sections {
        s.push_str(&format!("- [{}](#{})\n", sec.title, sec.id));
    }
    for sec in sections {
        s.push_str(&format!("\n## {}\n\n", sec.title));
        for (file, _) in &sec.charts {
            s.push_str(&format!("![{file}]({file})\n\n"));
        }
        s.push_str(&sec.markdown);
        s.push('\n');
    }
    s
}

/// Markdown to HTML with raw HTML shown as text and only relative file or `#anchor` links.
pub fn markdown_to_html(md: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    let mut link_ok: Vec<bool> = Vec::new();
    let events = Parser::new_ext(md, opts).filter_map(|ev| match ev {
        Event::Html(t) | Event::InlineHtml(t) => Some(Event::Text(t)),
        Event::Start(Tag::Link {
            dest_url,
            title,
            id,
            link_type,
        }) => {
            let ok = safe_link(&dest_url);
            link_ok.push(ok);
            ok.then_some(Event::Start(Tag::Link {
                dest_url,
                title,
                id,
                link_type,
            }))
        }
        Event::End(TagEnd::Link) => link_ok.pop().unwrap_or(false).then_some(ev),
        // Images are the charts, inlined by the page itself.
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// A link the pack may keep: `#anchor` or a plain relative file name.
fn safe_link(dest: &CowStr) -> bool {
    let d: &str = dest;
    if let Some(anchor) = d.strip_prefix('#') {
        return anchor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    }
    !d.is_empty()
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !d.starts_with('.')
}

/// Escape text for HTML.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    pulldown_cmark_escape::escape_html(&mut out, s).expect("writing to a String");
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#212121;max-width:1100px;margin:2rem auto;padding:0 1.5rem;line-height:1.5}\
h1{font-size:1.9rem;margin-bottom:.2rem}h2{margin-top:2.6rem;border-bottom:2px solid #e0e0e0;padding-bottom:.3rem}\
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem;display:block;overflow-x:auto}\
th,td{border:1px solid #e0e0e0;padding:.3rem .6rem;vertical-align:top}th{background:#f5f5f5;text-align:left}\
tr:nth-child(even) td{background:#fafafa}.summary{background:#f3f7fb;border-left:4px solid #1565c0;padding:.6rem 1.2rem;margin:1.2rem 0}\
figure{margin:1.2rem 0}figure svg{max-width:100%;height:auto;border:1px solid #eeeeee}figcaption{color:#616161;font-size:.85rem}\
nav ul{columns:2}code{background:#f5f5f5;padding:0 .2rem}";

/// The self-contained page: the summary, a table of contents, each section's charts
/// (inline SVG) and body.
pub fn html_page(title: &str, summary_md: &str, sections: &[Section]) -> String {
    let mut s =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // No scripts, no external resources.
    s.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n");
    s.push_str(&format!(
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape_html(title)
    ));
    s.push_str(&format!(
        "<h1>{}</h1>\n<div class=\"summary\">\n{}</div>\n",
        escape_html(title),
        markdown_to_html(summary_md)
    ));
    s.push_str("<nav><h2>Contents</h2><ul>\n");
    for sec in sections {
        s.push_str(&format!(
            "<li><a href=\"#{}\">{}</a></li>\n",
            sec.id,
            escape_html(&sec.title)
        ));
    }
    s.push_str("</ul></nav>\n");
    for sec in sections {
        s.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n",
            sec.id,
            escape_html(&sec.title)
        ));
        for (file, svg) in &sec.charts {
            s.push_str("<figure>\n");
            s.push_str(strip_xml_declaration(svg));
            s.push_str(&format!(
                "\n<figcaption>{}</figcaption>\n</figure>\n",
                escape_html(file)
            ));
        }
        s.push_str(&markdown_to_html(&sec.markdown));
        s.push_str("</section>\n");
    }
    s.push_str("</body>\n</html>\n");
    s
}

fn strip_xml_declaration(svg: &str) -> &str {
    let t = svg.trim_start();
    if t.starts_with("<?xml") {
        t.find("?>").map_or(t, |i| t[i + 2..].trim_start())
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_and_unsafe_links_become_text() {
        let h = markdown_to_html(
            "a <script>alert(1)</script> b\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1)) [ok](tiers.svg) [up](../etc/passwd) [a](#tiers)\n",
        );
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<img"), "{h}");
        assert!(!h.contains("javascript:"), "{h}");
        assert!(h.contains("href=\"tiers.svg\""));
        assert!(h.contains("href=\"#tiers\""));
        assert!(!h.contains("href=\"../etc/passwd\""));
        assert!(h.contains("&lt;script&gt;"));
    }

    #[test]
    fn headings_are_demoted_outside_code() {
        let d = demote("# A\ntext #1\n## B\n```\n# not\n```\n", 3);
        assert_eq!(d, "### A\ntext #1\n#### B\n```\n# not\n```\n");
    }

    #[test]
    fn page_escapes_titles_and_has_no_script() {
        let sec = Section {
            id: "x",
            title: "<b>t</b>".into(),
            markdown: "| a |\n|---|\n| &lt;script&gt; |\n".into(),
            charts: vec![("c.svg".into(), "<?xml version=\"1.0\"?><svg></svg>".into())],
        };
        let p = html_page("r <i>", "s", &[sec]);
        assert!(p.contains("r &lt;i&gt;"));
        assert!(!p.to_lowercase().contains("<script"));
        assert!(!p.contains("<?xml"));
        assert!(p.contains("<svg></svg>"));
    }
}
