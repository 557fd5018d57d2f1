//! `permlens explain`: allow or deny for one user and request, and every statement behind it.

use serde_json::json;

use crate::ExitCode;
use crate::catalog::{Catalog, V5Basis};
use crate::classify::Scratch;
use crate::cli::{ExplainArgs, TextOrJson};
use crate::fsutil::print_stdout;
use crate::policy::{Decision, History, MatchedStatement, PolicyModel, Snapshot, Truth, Via};

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load_or_embedded(args.catalog.catalog.as_deref())?;
    let history = History::load(&args.policies)?;
    let at = args.at.unwrap_or_else(jiff::Timestamp::now);
    // The snapshot in force at the request's time, as `analyze` would judge it.
    let in_force = history.at(at.as_microsecond());
    let snapshot = &history.snapshots[in_force];
    let snapshot_label = history.label(in_force);
    let mut scratch = Scratch::new();
    let route = crate::classify::Classifier::new(&catalog)
        .classify(args.method.as_bytes(), args.target.as_bytes(), &mut scratch)
        .route
        .map(|id| catalog.route(id));
    let user_groups: Vec<&str> = snapshot
        .user(&args.user)
        .map(|u| {
            snapshot.users[u]
                .groups
                .iter()
                .map(|&g| snapshot.groups[g].name.as_str())
                .collect()
        })
        .unwrap_or_default();

    let decision = route.map(|r| snapshot.decide(&args.user, r, Some(at), args.ip));
    let text = match args.format {
        TextOrJson::Json => {
            let v = to_json(
                &args,
                snapshot,
                &snapshot_label,
                route,
                decision.as_ref(),
                &user_groups,
                at,
            );
            format!("{}\n", serde_json::to_string_pretty(&v)?)
        }
        TextOrJson::Text => text(
            &args,
            snapshot,
            &snapshot_label,
            route,
            decision.as_ref(),
            &user_groups,
            at,
        ),
    };
    print_stdout(&text)?;
    Ok(ExitCode::Success)
}

#[allow(clippy::too_many_arguments)]
fn to_json(
    args: &ExplainArgs,
    snapshot: &Snapshot,
    snapshot_label: &str,
    route: Option<&crate::catalog::Route>,
    decision: Option<&Decision>,
    user_groups: &[&str],
    at: jiff::Timestamp,
) -> serde_json::Value {
    let mut v = json!({
        "user": args.user,
        "user_known": snapshot.user(&args.user).is_some(),
        "groups": user_groups,
        "method": args.method,
        "target": args.target,
        "at": at.to_string(),
        "snapshot": snapshot_label,
        "ip": args.ip.map(|ip| ip.to_string()),
        "in_catalog": route.is_some(),
    });
    if let (Some(r), Some(d)) = (route, decision) {
        v["route"] =
            json!({"method": r.method.as_str(), "path": r.template.as_str(), "api": r.api});
        v["permission"] = json!(r.permission);
        v["v5_action"] = json!(r.v5.action);
        v["v5_basis"] = json!(r.v5.basis.as_str());
        v["decision"] = json!(d.outcome.as_str());
        v["reason"] = json!(d.reason.map(|r| r.as_str()));
        v["note"] = json!(d.note);
        v["policy_model"] = json!(d.model.map(|m| m.as_str()));
        v["deciding_statement"] = json!(d.deciding_statement().map(|m| m.statement));
        v["deciding_policy"] = json!(
            d.deciding_statement()
                .map(|m| &snapshot.policies[m.policy].name)
        );
        v["statements"] = d
            .matched
            .iter()
            .map(|m| {
                json!({
                    "policy": snapshot.policies[m.policy].name,
                    "attached_to": via(snapshot, m),
                    "statement": m.statement,
                    "policy_model": m.model.as_str(),
                    "effect": m.effect.as_str(),
                    "pattern": m.pattern,
                    "role": m.role,
                    "conditions": truth(m),
                    "condition": m.condition,
                })
            })
            .collect();
    } else {
        v["decision"] = json!("allow");
        v["reason"] = json!("not_in_catalog");
    }
    v
}

#[allow(clippy::too_many_arguments)]
fn text(
    args: &ExplainArgs,
    snapshot: &Snapshot,
    snapshot_label: &str,
    route: Option<&crate::catalog::Route>,
    decision: Option<&Decision>,
    groups: &[&str],
    at: jiff::Timestamp,
) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<12} {v}\n"));
    line(
        "request",
        format!("{} {}", args.method.to_ascii_uppercase(), args.target),
    );
    let (Some(r), Some(d)) = (route, decision) else {
        line("route", "not in the catalog".into());
        line(
            "decision",
            "allow: APIs not in the catalog need no fine-grained permission".into(),
        );
        return out;
    };
    line("route", format!("{} {}  ({})", r.method, r.template, r.api));
    line("permission", format!("{} (v1.1)", r.permission));
    line("v5 action", v5_text(&r.v5));
    let user = if snapshot.user(&args.user).is_some() {
        format!(
            "{} (groups: {})",
            args.user,
            if groups.is_empty() {
                "none".to_owned()
            } else {
                groups.join(", ")
            }
        )
    } else {
        format!("{} (not in the snapshot)", args.user)
    };
    line("user", user);
    line(
        "context",
        format!(
            "time {at}, ip {}",
            args.ip.map_or("unknown".to_owned(), |ip| ip.to_string())
        ),
    );
    line("snapshot", snapshot_label.to_owned());
    let model = d
        .model
        .map(|m| format!(" (decided by the {} model)", m.as_str()))
        .unwrap_or_default();
    line("decision", format!("{}{model}", d.outcome.as_str()));
    if d.reason.is_none() {
        let detail = match d.deciding_statement() {
            Some(m) => format!(
                "{} statement {} ({} {})",
                snapshot.policies[m.policy].name,
                m.statement,
                m.effect.as_str(),
                m.pattern
            ),
            None => "IAM 5.0 requires no identity-policy permission for this API".to_owned(),
        };
        line("allowed by", detail);
    }
    if let Some(reason) = d.reason {
        let detail = match d.deciding_statement() {
            Some(m) => format!(
                ": {} statement {} ({} {}){}",
                snapshot.policies[m.policy].name,
                m.statement,
                m.effect.as_str(),
                m.pattern,
                m.condition
                    .as_ref()
                    .map(|c| format!(", condition {c}"))
                    .unwrap_or_default()
            ),
            None => d
                .note
                .as_ref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default(),
        };
        line("reason", format!("{reason}{detail}"));
    }
    out.push_str(&statements_text(snapshot, d));
    out
}

/// The statements that mention the permission, one line each.
fn statements_text(snapshot: &Snapshot, d: &Decision) -> String {
    let mut out = String::new();
    if d.matched.is_empty() {
        out.push_str("statements   none of the user's policies mention this permission\n");
    } else {
        out.push_str("statements\n");
        for m in &d.matched {
            out.push_str(&format!(
                "  {:<5} {} [{}] #{}  {}  {}  ({})\n",
                m.effect.as_str(),
                snapshot.policies[m.policy].name,
                via(snapshot, m),
                m.statement,
                m.pattern,
                if m.role {
                    "role: not evaluated for these APIs".to_owned()
                } else {
                    truth(m)
                },
                match m.model {
                    PolicyModel::V11 => "v1.1",
                    PolicyModel::V5 => "v5 identity policy",
                }
            ));
        }
    }
    out
}

/// The route's IAM 5.0 requirement, as `explain` states it.
fn v5_text(v5: &crate::catalog::V5Requirement) -> String {
    match (&v5.action, v5.basis) {
        (Some(a), basis) => format!("{a} ({})", basis.as_str()),
        (None, V5Basis::NotRequired) => "none required".to_owned(),
        (None, _) => "unknown (only a v5 statement of `*` covers this API)".to_owned(),
    }
}

fn via(snapshot: &Snapshot, m: &MatchedStatement) -> String {
    match m.via {
        Via::Group(g) => format!("group {}", snapshot.groups[g].name),
        Via::User => "user".to_owned(),
    }
}

fn truth(m: &MatchedStatement) -> String {
    match (&m.truth, &m.condition) {
        (Truth::Met, None) => "applies".to_owned(),
        (Truth::Met, Some(_)) => "conditions met".to_owned(),
        (Truth::Unmet, c) => format!("condition unmet: {}", c.as_deref().unwrap_or_default()),
        (Truth::Undecided, c) => {
            format!("condition undecided: {}", c.as_deref().unwrap_or_default())
        }
    }
}
