//! Which route tables a delegate action selects, and whether delegation across namespaces is
//! allowed (Settings `spec.gateway.delegatingNamespaces`, a table's `spec.acceptDelegationFrom`).

use lockgate_api::{self as api, Kind, ResourceKey};

use super::{Table, Walker};
use crate::problem::{Code, Flaw};

impl<'a> Walker<'a> {
    /// The route tables a delegate action names, in a stable order (namespace, name).
    pub(super) fn select(
        &mut self,
        delegate: &api::DelegateAction,
        owner: &ResourceKey,
        field: &str,
    ) -> Result<Vec<Table<'a>>, Flaw> {
        let at = format!("{field}.delegateAction");
        let legacy_ref = delegate.name.as_ref().map(|name| api::ResourceRef {
            name: name.clone(),
            namespace: delegate.namespace.clone().unwrap_or_default(),
        });
        let reference = match (&delegate.reference, legacy_ref, &delegate.selector) {
            (Some(r), None, None) => Some(r.clone()),
            (None, Some(r), None) => Some(r),
            (None, None, Some(_)) => None,
            (None, None, None) => {
                return Err(Flaw::new(
                    Code::InvalidDelegationError,
                    at,
                    "set ref or selector",
                ));
            }
            _ => {
                return Err(Flaw::new(
                    Code::InvalidDelegationError,
                    at,
                    "set only one of ref and selector",
                ));
            }
        };
        let gateway = &self.snapshot.settings.spec.gateway;
        let may_cross = gateway.allows_delegation_from(&owner.namespace);
        if let Some(r) = reference {
            let namespace = r.namespace_or(&owner.namespace).to_string();
            let key = ResourceKey::new(Kind::RouteTable, &namespace, &r.name);
            let foreign = namespace != owner.namespace;
            // Refused before looking the table up, so that a refusal tells nothing about
            // another team's resources; the refused table's own report never changes.
            if foreign && !may_cross {
                self.warning(
                    owner,
                    Flaw::new(
                        Code::DelegationRefusedWarning,
                        format!("{at}.ref"),
                        format!(
                            "delegation to route table {namespace}.{} refused: namespace {:?} may not delegate to other namespaces (Settings gloo-system.default spec.gateway.delegatingNamespaces is {:?})",
                            r.name,
                            owner.namespace,
                            gateway.delegating_namespaces()
                        ),
                    ),
                );
                return Ok(Vec::new());
            }
            if let Some(t) = self
                .snapshot
                .route_tables
                .get(&(namespace.clone(), r.name.clone()))
            {
                if foreign && !accepts(t, &owner.namespace) {
                    self.warning(
                        owner,
                        Flaw::new(
                            Code::DelegationRefusedWarning,
                            format!("{at}.ref"),
                            format!(
                                "delegation to route table {namespace}.{} refused: it accepts delegation only from {:?} (its spec.acceptDelegationFrom)",
                                r.name,
                                t.spec.accept_delegation_from.clone().unwrap_or_default()
                            ),
                        ),
                    );
                    return Ok(Vec::new());
                }
                return Ok(vec![Table::Decoded(t)]);
            }
            if self.snapshot.undecodable.contains_key(&key) {
                return Ok(vec![Table::Undecodable(key)]);
            }
            return Err(Flaw::new(
                Code::RouteTableMissingWarning,
                format!("{at}.ref"),
                format!("route table {namespace}.{} not found", r.name),
            ));
        }
        let Some(selector) = &delegate.selector else {
            return Ok(Vec::new());
        };
        let labels = selector.label_selector();
        if let Some((f, reason)) = labels.problems().into_iter().next() {
            return Err(Flaw::new(
                Code::InvalidDelegationError,
                format!("{at}.selector.{f}"),
                reason,
            ));
        }
        let mut namespaces: Vec<&str> = if selector.namespaces.is_empty() {
            vec![owner.namespace.as_str()]
        } else {
            selector.namespaces.iter().map(String::as_str).collect()
        };
        if !may_cross && namespaces.iter().any(|n| *n != owner.namespace) {
            // Said from the selector as written, never from which tables exist elsewhere.
            self.warning(
                owner,
                Flaw::new(
                    Code::DelegationRefusedWarning,
                    format!("{at}.selector.namespaces"),
                    format!(
                        "only route tables in namespace {:?} are selected: it may not delegate to other namespaces (Settings gloo-system.default spec.gateway.delegatingNamespaces is {:?})",
                        owner.namespace,
                        gateway.delegating_namespaces()
                    ),
                ),
            );
            namespaces.retain(|n| *n == "*" || *n == owner.namespace);
        }
        let wanted = |ns: &str| {
            namespaces
                .iter()
                .any(|n| *n == ns || (*n == "*" && (may_cross || ns == owner.namespace)))
        };
        let mut tables: Vec<Table<'a>> = Vec::new();
        for ((ns, _), t) in &self.snapshot.route_tables {
            // A table that does not accept this delegator is simply not selected.
            let consents = *ns == owner.namespace || accepts(t, &owner.namespace);
            if wanted(ns) && consents && labels.matches(&t.metadata.labels) {
                tables.push(Table::Decoded(t));
            }
        }
        for (key, u) in &self.snapshot.undecodable {
            if key.kind == Kind::RouteTable && wanted(&key.namespace) && labels.matches(&u.labels) {
                tables.push(Table::Undecodable(key.clone()));
            }
        }
        // By (namespace, name) borrowed: building keys inside the comparison would allocate
        // per comparison, and there can be thousands of tables.
        tables.sort_by(|a, b| a.id().cmp(&b.id()));
        if tables.is_empty() {
            self.warning(
                owner,
                Flaw::new(
                    Code::RouteTableMissingWarning,
                    format!("{at}.selector"),
                    "matches no route tables",
                ),
            );
        }
        Ok(tables)
    }
}

/// Whether `table` accepts delegation from `namespace` by its `spec.acceptDelegationFrom`
/// (absent: yes, as far as the table is concerned).
fn accepts(table: &api::RouteTable, namespace: &str) -> bool {
    table
        .spec
        .accept_delegation_from
        .as_ref()
        .is_none_or(|list| list.iter().any(|n| n == "*" || n == namespace))
}
