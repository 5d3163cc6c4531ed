//! RBAC held to behaviour: every request the fake Kubernetes API server saw in the test suite
//! (appended to the file named by `WARDEN_KUBE_REQUESTS` when it is set) is turned into what
//! RBAC checks — verb, API group, resource, subresource — and compared with the rules of the
//! shipped Role (`deploy/kubernetes/warden.yaml`): a request no rule allows is a failure, and
//! a rule no test exercised is reported too (a permission nobody showed is needed).

use std::collections::BTreeSet;

use serde_json::Value;

/// What RBAC authorizes a request as.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    /// `get`, `list`, `create`, `update`, `patch`, `delete`, `watch`.
    pub verb: String,
    /// The API group (`""` for the core group).
    pub group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        write!(f, "{} {group}/{}", self.verb, self.resource)
    }
}

/// The access a request needs; `None` for non-resource paths (`/version`, discovery).
pub fn access(method: &str, path: &str, query: &str) -> Option<Access> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match segments.as_slice() {
        ["api", _version, rest @ ..] => (String::new(), rest),
        ["apis", group, _version, rest @ ..] => ((*group).to_string(), rest),
        _ => return None,
    };
    let rest = match rest {
        ["namespaces", _namespace, rest @ ..] if !rest.is_empty() => rest,
        rest => rest,
    };
    let (resource, name, subresource) = match rest {
        [resource] => (*resource, None, None),
        [resource, name] => (*resource, Some(*name), None),
        [resource, name, subresource] => (*resource, Some(*name), Some(*subresource)),
        _ => return None,
    };
    let verb = match (method, name) {
        ("GET", None) if query.contains("watch=true") || query.contains("watch=1") => "watch",
        ("GET", None) => "list",
        ("GET", Some(_)) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => return None,
    };
    Some(Access {
        verb: verb.into(),
        group,
        resource: match subresource {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.into(),
        },
    })
}

/// Every access the Role's `rules` grant.
pub fn granted(role: &Value) -> BTreeSet<Access> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().into_iter().flatten() {
        let list = |key: &str| -> Vec<String> {
            rule[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        for group in list("apiGroups") {
            for resource in list("resources") {
                for verb in list("verbs") {
                    out.insert(Access {
                        verb: verb.clone(),
                        group: group.clone(),
                        resource: resource.clone(),
                    });
                }
            }
        }
    }
    out
}

/// The documents of a multi-document YAML file (`---` separated), as JSON values.
///
/// # Errors
/// A document that is not YAML, with its number.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let push = |current: &mut String, docs: &mut Vec<Value>| -> Result<(), String> {
        if current
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        {
            let value: Value = serde_saphyr::from_str(current)
                .map_err(|e| format!("document {}: {e}", docs.len() + 1))?;
            docs.push(value);
        }
        current.clear();
        Ok(())
    };
    for line in text.lines() {
        if line.trim_end() == "---" {
            push(&mut current, &mut docs)?;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    push(&mut current, &mut docs)?;
    Ok(docs)
}

/// Checks the requests of `log` (one `METHOD PATH QUERY` per line) against the Roles among
/// `manifests`: the accesses no rule grants, and the granted accesses no request used.
pub fn check(manifests: &[Value], log: &str) -> (Vec<(Access, String)>, Vec<Access>) {
    let mut grants = BTreeSet::new();
    for doc in manifests
        .iter()
        .filter(|d| d["kind"] == "Role" || d["kind"] == "ClusterRole")
    {
        grants.extend(granted(doc));
    }
    let mut used = BTreeSet::new();
    let mut refused = Vec::new();
    for line in log.lines() {
        let mut parts = line.splitn(3, ' ');
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(needed) = access(method, path, parts.next().unwrap_or_default()) else {
            continue;
        };
        if grants.contains(&needed) {
            used.insert(needed);
        } else if !refused.iter().any(|(a, _)| *a == needed) {
            refused.push((needed, line.to_string()));
        }
    }
    let unused = grants.difference(&used).cloned().collect();
    (refused, unused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(verb: &str, group: &str, resource: &str) -> Option<Access> {
        Some(Access {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
        })
    }

    #[test]
    fn requests_map_to_what_rbac_checks() {
        assert_eq!(
            access("GET", "/api/v1/namespaces/mlops/pods", "labelSelector=x"),
            a("list", "", "pods")
        );
        assert_eq!(
            access(
                "GET",
                "/api/v1/namespaces/mlops/pods/p-1/log",
                "container=c"
            ),
            a("get", "", "pods/log")
        );
        assert_eq!(
            access(
                "PATCH",
                "/apis/apps/v1/namespaces/mlops/deployments/d/scale",
                ""
            ),
            a("patch", "apps", "deployments/scale")
        );
        assert_eq!(
            access(
                "POST",
                "/apis/networking.istio.io/v1alpha3/namespaces/mlops/envoyfilters",
                ""
            ),
            a("create", "networking.istio.io", "envoyfilters")
        );
        assert_eq!(
            access("GET", "/api/v1/namespaces/mlops/pods", "watch=true"),
            a("watch", "", "pods")
        );
        assert_eq!(access("GET", "/version", ""), None);
    }

    #[test]
    fn a_role_grants_the_cross_product_of_its_rules() {
        let role = serde_json::json!({"rules": [{"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]}]});
        let granted = granted(&role);
        assert_eq!(granted.len(), 2);
        assert!(granted.contains(&Access {
            verb: "patch".into(),
            group: "apps".into(),
            resource: "deployments/scale".into()
        }));
    }
}
