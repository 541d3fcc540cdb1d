//! The billing and compliance reports as one HTML page each, for a person: headings,
//! tables, and inline SVG charts. Server-rendered, self-contained (no script, no font, no
//! network at view time; the endpoint's Content-Security-Policy forbids any), with a print
//! stylesheet.

use super::reports::ComplianceReport;
use replay::billing::{dollars, BillingReport};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Text for HTML, escaped.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Kept by a saved copy too: the page may not reach the network or run anything.
pub const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d2733; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #d5dbe3; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
p.meta { color: #5a6778; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e6eaef; vertical-align: top; }
th { background: #f3f5f8; font-weight: 600; } td.num, th.num { text-align: right; }
tr.total td { font-weight: 700; border-top: 2px solid #1d2733; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #d5dbe3; border-radius: 6px; padding: .6rem .9rem; min-width: 9rem; }
.card .v { font-size: 1.4rem; font-weight: 700; } .card .l { color: #5a6778; font-size: .85rem; }
.bad { color: #b42318; font-weight: 600; } .good { color: #067647; font-weight: 600; }
pre.diff { background: #f7f8fa; padding: .5rem; overflow-x: auto; font-size: 12px; }
pre.diff span { display: block; } pre.diff .add { background: #dcfae6; } pre.diff .del { background: #fee4e2; }
svg.chart { width: 100%; height: auto; margin: .5rem 0 1rem; } svg text { font: 11px system-ui, sans-serif; fill: #1d2733; }
code { font-size: 12px; white-space: nowrap; }
.wide { overflow-x: auto; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; } h2 { break-after: avoid; } table, svg.chart, pre.diff { break-inside: avoid; }
  .cards .card { border-color: #999; } a { color: inherit; text-decoration: none; }
}
";

fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{PAGE_POLICY}\">\n\
         <title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n\
         <p class=\"meta\">{s}</p>\n{body}</body>\n</html>\n",
        t = esc(title),
        s = esc(subtitle),
    )
}

/// A table: a header row, then rows of cells (already HTML); columns in `numeric` align right.
fn table(
    headers: &[&str],
    numeric: &[usize],
    rows: &[Vec<String>],
    total: Option<Vec<String>>,
) -> String {
    if rows.is_empty() && total.is_none() {
        return "<p>None.</p>\n".into();
    }
    let class = |i: usize| {
        if numeric.contains(&i) {
            " class=\"num\""
        } else {
            ""
        }
    };
    let mut out = String::from("<div class=\"wide\"><table>\n<thead><tr>");
    for (i, h) in headers.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(i), esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let mut row_html = |cells: &[String], css: &str| {
        let _ = write!(out, "<tr{css}>");
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(out, "<td{}>{c}</td>", class(i));
        }
        out.push_str("</tr>\n");
    };
    for row in rows {
        row_html(row, "");
    }
    if let Some(total) = total {
        row_html(&total, " class=\"total\"");
    }
    out.push_str("</tbody>\n</table></div>\n");
    out
}

fn cards(items: &[(&str, String)]) -> String {
    let mut out = String::from("<div class=\"cards\">");
    for (label, value) in items {
        let _ = write!(
            out,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"l\">{}</div></div>",
            esc(value),
            esc(label)
        );
    }
    out.push_str("</div>\n");
    out
}

const PALETTE: &[&str] = &[
    "#2e90fa", "#f79009", "#12b76a", "#9e77ed", "#f04438", "#0ba5ec", "#ee46bc", "#667085",
];

/// Horizontal bars, one per label; each bar carries its value (`data-value`) for tools.
fn bar_chart(title: &str, unit: &str, bars: &[(String, i64)]) -> String {
    if bars.is_empty() {
        return format!("<p>{}: no data.</p>\n", esc(title));
    }
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(1).max(1);
    let (label_w, bar_w, row_h) = (260.0, 600.0, 22.0);
    let height = bars.len() as f64 * row_h + 30.0;
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {height}\">\
         <title>{t}</title><text x=\"0\" y=\"14\" font-weight=\"600\">{t}</text>",
        w = label_w + bar_w + 120.0,
        t = esc(title)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = 24.0 + i as f64 * row_h;
        let w = (*value as f64 / max as f64 * bar_w).max(1.0);
        let short: String = label.chars().take(38).collect();
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{ty}\">{l}</text><rect class=\"bar\" data-value=\"{value}\" x=\"{label_w}\" y=\"{y}\" \
             width=\"{w:.1}\" height=\"{h}\" fill=\"{c}\"><title>{full}: {value} {u}</title></rect>\
             <text x=\"{vx:.1}\" y=\"{ty}\">{value} {u}</text>",
            ty = y + 14.0,
            l = esc(&short),
            h = row_h - 6.0,
            c = PALETTE[0],
            full = esc(label),
            u = esc(unit),
            vx = label_w + w + 6.0,
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Stacked columns: one per day, a segment per series, and a legend.
fn daily_chart(title: &str, days: &[String], series: &[(String, Vec<i64>)]) -> String {
    if days.is_empty() || series.is_empty() {
        return format!("<p>{}: no requests in the period.</p>\n", esc(title));
    }
    let totals: Vec<i64> = (0..days.len())
        .map(|d| series.iter().map(|(_, v)| v[d]).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(1).max(1);
    let (left, plot_w, plot_h, top) = (60.0, 820.0, 220.0, 24.0);
    let legend_h = 18.0 * series.len() as f64;
    let height = top + plot_h + 40.0 + legend_h;
    let col_w = plot_w / days.len() as f64;
    let mut out = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {w} {height}\">\
         <title>{t}</title><text x=\"0\" y=\"14\" font-weight=\"600\">{t}</text>\
         <line x1=\"{left}\" y1=\"{base}\" x2=\"{right}\" y2=\"{base}\" stroke=\"#98a2b3\"/>\
         <text x=\"0\" y=\"{ty}\">{max}</text><text x=\"0\" y=\"{base}\">0</text>",
        w = left + plot_w + 20.0,
        t = esc(title),
        base = top + plot_h,
        right = left + plot_w,
        ty = top + 10.0,
    );
    for (d, day) in days.iter().enumerate() {
        let x = left + d as f64 * col_w;
        let mut y = top + plot_h;
        for (s, (name, values)) in series.iter().enumerate() {
            let v = values[d];
            if v == 0 {
                continue;
            }
            let h = v as f64 / max as f64 * plot_h;
            y -= h;
            let _ = write!(
                out,
                "<rect class=\"bar\" data-value=\"{v}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{h:.1}\" \
                 fill=\"{c}\"><title>{day} {n}: {v}</title></rect>",
                bw = (col_w - 2.0).max(1.0),
                c = PALETTE[s % PALETTE.len()],
                n = esc(name),
            );
        }
        // A date under every few columns.
        let every = days.len().div_ceil(10).max(1);
        if d % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{ly}\">{}</text>",
                esc(day.get(5..).unwrap_or(day)),
                ly = top + plot_h + 16.0
            );
        }
    }
    for (s, (name, values)) in series.iter().enumerate() {
        let y = top + plot_h + 34.0 + s as f64 * 18.0;
        let _ = write!(
            out,
            "<rect x=\"{left}\" y=\"{ry}\" width=\"12\" height=\"12\" fill=\"{c}\"/>\
             <text x=\"{tx}\" y=\"{y}\">{n} ({total})</text>",
            ry = y - 10.0,
            c = PALETTE[s % PALETTE.len()],
            tx = left + 18.0,
            n = esc(name),
            total = values.iter().sum::<i64>(),
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Points `(day, series, value)` as [`daily_chart`] takes them: the days in order, and each
/// series' value on each day.
fn by_day<'a>(
    points: impl Iterator<Item = (&'a str, String, i64)> + Clone,
) -> (Vec<String>, Vec<(String, Vec<i64>)>) {
    let days: Vec<String> = points
        .clone()
        .map(|(day, _, _)| day.to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut series: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (day, name, value) in points {
        let i = days.binary_search_by(|d| d.as_str().cmp(day)).unwrap_or(0);
        series.entry(name).or_insert_with(|| vec![0; days.len()])[i] += value;
    }
    (days, series.into_iter().collect())
}

fn num(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn money(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    format!("{sign}${}", dollars(micros.abs()))
}

fn code(text: &str) -> String {
    if text.is_empty() {
        "<em>none</em>".into()
    } else {
        format!("<code>{}</code>", esc(text))
    }
}

pub fn billing_page(report: &BillingReport) -> String {
    let mut body = cards(&[
        ("total", money(report.totals.amount_micros)),
        ("requests", num(report.totals.requests)),
        ("charged requests", num(report.totals.charged_requests)),
        ("accounts", report.accounts.len().to_string()),
    ]);
    let _ = writeln!(
        body,
        "<p>Prices per 10,000 requests: symmetric {}, RSA 2048 {}, other asymmetric {}, ECC key pairs {}, RSA key pairs {}; \
         {} free requests a month (symmetric only); {} per key-month, {} per month for each of a key's first two rotations. \
         Partial units are prorated (AWS bills per request); key-months are prorated by the hour.</p>",
        money(report.prices.symmetric_per_10k),
        money(report.prices.rsa_2048_per_10k),
        money(report.prices.asymmetric_per_10k),
        money(report.prices.ecc_key_pair_per_10k),
        money(report.prices.rsa_key_pair_per_10k),
        num(report.prices.free_tier_requests),
        money(report.prices.key_month),
        money(report.prices.rotation_month),
    );
    if report.accounts.is_empty() {
        body.push_str("<p>No requests and no keys this month.</p>\n");
    }
    for bill in &report.accounts {
        let _ = writeln!(body, "<h2>Account {}</h2>", esc(&bill.account));
        body.push_str(&cards(&[
            ("amount", money(bill.totals.amount_micros)),
            ("requests", money(bill.totals.requests_micros)),
            ("key-months", money(bill.totals.keys_micros)),
            ("rotations", money(bill.totals.rotations_micros)),
            ("free tier", money(bill.totals.free_tier_micros)),
        ]));
        // Requests per day per price class.
        let (days, series) = by_day(bill.daily.iter().map(|d| {
            (
                d.day.as_str(),
                d.price_class.as_str().to_owned(),
                d.requests,
            )
        }));
        body.push_str(&daily_chart(
            "Charged requests per day, by price class",
            &days,
            &series,
        ));
        body.push_str("<h3>Requests</h3>\n");
        let rows: Vec<Vec<String>> = bill
            .requests
            .iter()
            .map(|l| {
                vec![
                    code(&l.key_id),
                    esc(l.key_spec.as_deref().unwrap_or("")),
                    esc(l.price_class.as_str()),
                    num(l.requests),
                    esc(&l.billable_units),
                    money(l.unit_price_micros),
                    money(l.amount_micros),
                ]
            })
            .collect();
        body.push_str(&table(
            &[
                "key",
                "key spec",
                "price class",
                "requests",
                "units of 10,000",
                "unit price",
                "amount",
            ],
            &[3, 4, 5, 6],
            &rows,
            None,
        ));
        body.push_str("<h3>Denied and failed requests</h3>\n");
        let rows: Vec<Vec<String>> = bill
            .uncharged
            .iter()
            .map(|l| {
                vec![
                    code(&l.key_id),
                    esc(l.outcome.as_str()),
                    num(l.requests),
                    if l.charged { "yes".into() } else { "no".into() },
                ]
            })
            .collect();
        body.push_str(&table(
            &["key", "outcome", "requests", "charged"],
            &[2],
            &rows,
            None,
        ));
        body.push_str("<h3>Keys and rotations</h3>\n");
        let rows: Vec<Vec<String>> = bill
            .keys
            .iter()
            .chain(&bill.rotations)
            .map(|l| {
                vec![
                    code(&l.key_id),
                    esc(&l.key_spec),
                    match l.rotation {
                        None => "key-month".into(),
                        Some(n) => format!("rotation {n}"),
                    },
                    format!("{} of {}", num(l.hours), num(l.month_hours)),
                    money(l.monthly_price_micros),
                    money(l.amount_micros),
                ]
            })
            .collect();
        body.push_str(&table(
            &[
                "key",
                "key spec",
                "charge",
                "hours",
                "monthly price",
                "amount",
            ],
            &[3, 4, 5],
            &rows,
            None,
        ));
        body.push_str("<h3>Totals</h3>\n");
        body.push_str(&table(
            &["line", "requests", "amount"],
            &[1, 2],
            &[
                vec![
                    "requests".into(),
                    num(bill.totals.charged_requests),
                    money(bill.totals.requests_micros),
                ],
                vec![
                    "key-months".into(),
                    String::new(),
                    money(bill.totals.keys_micros),
                ],
                vec![
                    "rotations".into(),
                    String::new(),
                    money(bill.totals.rotations_micros),
                ],
                vec![
                    format!("free tier ({} requests)", num(bill.free_tier.allowance)),
                    num(bill.free_tier.requests),
                    money(bill.free_tier.amount_micros),
                ],
            ],
            Some(vec![
                "total".into(),
                num(bill.totals.requests),
                money(bill.totals.amount_micros),
            ]),
        ));
    }
    page(
        &format!("Billing report {}", report.month),
        &format!("{} · charged through {}", report.currency, report.through),
        &body,
    )
}

pub fn compliance_page(report: &ComplianceReport) -> String {
    let s = &report.summary;
    let mut body = cards(&[
        ("keys", s.keys.to_string()),
        ("rotation overdue", s.rotation_overdue.to_string()),
        (
            &format!("unused for {} days", report.settings.unused_key_days),
            s.unused.to_string(),
        ),
        ("deletions in the period", s.deletions.to_string()),
        ("policy changes", s.policy_changes.to_string()),
        ("denied requests", num(s.denied_requests)),
        ("failed requests", num(s.failed_requests)),
        (
            "trail",
            if report.trail.verifies {
                "verifies".into()
            } else {
                "does not verify".into()
            },
        ),
    ]);
    body.push_str("<h2>Trail integrity</h2>\n");
    let verdict = if report.trail.verifies {
        "<span class=\"good\">verifies</span>".to_owned()
    } else {
        format!(
            "<span class=\"bad\">does not verify</span>{}",
            report
                .trail
                .problem
                .as_deref()
                .map(|p| format!(": {}", esc(p)))
                .unwrap_or_default()
        )
    };
    body.push_str(&table(
        &[
            "latest checkpoint",
            "tree size",
            "root hash",
            "signature and root",
        ],
        &[1],
        &[vec![
            esc(report.trail.created.as_deref().unwrap_or("none")),
            report
                .trail
                .tree_size
                .map(|n| num(n as i64))
                .unwrap_or_default(),
            code(report.trail.root_hash.as_deref().unwrap_or("")),
            verdict,
        ]],
        None,
    ));
    body.push_str("<h2>Keys</h2>\n");
    let by_state: Vec<(String, i64)> = s
        .by_state
        .iter()
        .map(|(k, v)| (k.clone(), *v as i64))
        .collect();
    body.push_str(&bar_chart("Keys by state", "keys", &by_state));
    let ages: Vec<(String, i64)> = report
        .keys
        .iter()
        .filter(|k| k.rotation_overdue.is_some())
        .map(|k| (k.key_id.clone(), k.material_age_days))
        .collect();
    body.push_str(&bar_chart(
        &format!(
            "Rotation age (days on the current material; overdue after {})",
            report.settings.rotation_max_age_days
        ),
        "days",
        &ages,
    ));
    let rows: Vec<Vec<String>> = report
        .keys
        .iter()
        .map(|k| {
            vec![
                code(&k.key_id),
                esc(&k.state),
                esc(&format!("{} / {}", k.key_spec, k.key_usage)),
                esc(&format!("{} / {}", k.origin, k.key_manager)),
                esc(&k.created),
                if k.rotation_enabled {
                    format!("every {} days", k.rotation_period_days.unwrap_or_default())
                } else {
                    "off".into()
                },
                esc(k.last_rotation.as_deref().unwrap_or("never")),
                esc(k.next_rotation.as_deref().unwrap_or("")),
                match k.rotation_overdue {
                    Some(true) => format!(
                        "<span class=\"bad\">overdue ({} days)</span>",
                        k.material_age_days
                    ),
                    Some(false) => format!("{} days", k.material_age_days),
                    None => "n/a".into(),
                },
                match (&k.last_used, k.unused) {
                    (_, true) => format!(
                        "<span class=\"bad\">unused</span> {}",
                        esc(k.last_used.as_deref().unwrap_or("never"))
                    ),
                    (Some(t), false) => esc(t),
                    (None, false) => "never".into(),
                },
            ]
        })
        .collect();
    body.push_str(&table(
        &[
            "key",
            "state",
            "spec / usage",
            "origin / manager",
            "created",
            "rotation",
            "last rotation",
            "next rotation",
            "material age",
            "last used",
        ],
        &[],
        &rows,
        None,
    ));
    body.push_str("<h2>Deletions in the period</h2>\n");
    let rows: Vec<Vec<String>> = report
        .deletions
        .iter()
        .map(|d| {
            vec![
                code(&d.key_id),
                esc(d.scheduled_at.as_deref().unwrap_or("")),
                code(d.scheduled_by.as_deref().unwrap_or("")),
                esc(d.deletion_date.as_deref().unwrap_or("")),
                esc(d.cancelled_at.as_deref().unwrap_or("")),
                esc(d.shredded_at.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    body.push_str(&table(
        &[
            "key",
            "scheduled",
            "by",
            "deletion date",
            "cancelled",
            "shredded",
        ],
        &[],
        &rows,
        None,
    ));
    body.push_str("<h2>Key policy changes in the period</h2>\n");
    if report.policy_changes.is_empty() {
        body.push_str("<p>None.</p>\n");
    }
    for change in &report.policy_changes {
        let _ = writeln!(
            body,
            "<h3>{} — {}</h3>\n<p>by {} · policy <code>{}</code></p>",
            code(&change.key_id),
            esc(&change.time),
            code(
                change
                    .principal
                    .as_deref()
                    .or(change.account.as_deref())
                    .unwrap_or("")
            ),
            esc(&change.policy_name)
        );
        body.push_str("<pre class=\"diff\">");
        for line in &change.diff {
            let class = match line.op {
                '+' => " class=\"add\"",
                '-' => " class=\"del\"",
                _ => "",
            };
            let _ = write!(
                body,
                "<span{class}>{} {}</span>\n",
                line.op,
                esc(&line.text)
            );
        }
        body.push_str("</pre>\n");
    }
    body.push_str("<h2>Requests in the period</h2>\n");
    // The busiest keys get a series each; the rest are one.
    let mut per_key: BTreeMap<&str, i64> = BTreeMap::new();
    for d in &report.daily {
        *per_key.entry(&d.key_id).or_default() += d.requests;
    }
    let mut ranked: Vec<(&str, i64)> = per_key.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown: Vec<&str> = ranked.iter().take(7).map(|(k, _)| *k).collect();
    let (days, series) = by_day(report.daily.iter().map(|d| {
        let name = if shown.contains(&d.key_id.as_str()) {
            d.key_id.clone()
        } else {
            "other keys".into()
        };
        (d.day.as_str(), name, d.requests)
    }));
    body.push_str(&daily_chart("Requests per day, by key", &days, &series));
    let principal_rows = |lines: &[super::reports::PrincipalKeyRequests]| -> Vec<Vec<String>> {
        lines
            .iter()
            .map(|l| {
                vec![
                    code(&l.principal),
                    esc(&l.account),
                    code(&l.key_id),
                    esc(l.outcome.as_str()),
                    num(l.requests),
                ]
            })
            .collect()
    };
    body.push_str("<h3>Denied and failed requests, by principal and key</h3>\n");
    body.push_str(&table(
        &["principal", "account", "key", "outcome", "requests"],
        &[4],
        &principal_rows(&report.denied_and_failed),
        None,
    ));
    body.push_str("<h3>Usage, by principal and key</h3>\n");
    body.push_str(&table(
        &["principal", "account", "key", "outcome", "requests"],
        &[4],
        &principal_rows(&report.usage),
        None,
    ));
    page(
        "Compliance report",
        &format!(
            "as of {} · period from {}",
            report.as_of, report.period_start
        ),
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_numbers_grouped() {
        assert_eq!(esc("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
        assert_eq!(num(1234567), "1,234,567");
        assert_eq!(num(-1000), "-1,000");
        assert_eq!(num(12), "12");
    }

    #[test]
    fn charts_draw_a_bar_per_value() {
        let svg = bar_chart(
            "t",
            "keys",
            &[("Enabled".into(), 3), ("Disabled".into(), 1)],
        );
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 2);
        assert!(svg.contains("data-value=\"3\""));
        let svg = daily_chart(
            "t",
            &["2026-12-01".into(), "2026-12-02".into()],
            &[("a".into(), vec![1, 0]), ("b".into(), vec![2, 5])],
        );
        assert_eq!(
            svg.matches("<rect class=\"bar\"").count(),
            3,
            "zero segments are not drawn"
        );
    }
}
