//! Virtual host lookup by the request's authority.

use std::collections::HashMap;

use crate::VirtualHost;

/// Exact domains in a hash map, `*.suffix` wildcards longest first, then `*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostIndex {
    exact: HashMap<String, usize>,
    /// `(".example.com", index)`, longest suffix first.
    suffixes: Vec<(String, usize)>,
    any: Option<usize>,
}

impl HostIndex {
    pub(crate) fn build(virtual_hosts: &[VirtualHost]) -> HostIndex {
        let mut index = HostIndex::default();
        for (i, vh) in virtual_hosts.iter().enumerate() {
            for domain in &vh.domains {
                let domain = domain.to_ascii_lowercase();
                if domain == "*" {
                    index.any.get_or_insert(i);
                } else if let Some(suffix) = domain.strip_prefix('*') {
                    if !index.suffixes.iter().any(|(s, _)| s == suffix) {
                        index.suffixes.push((suffix.to_string(), i));
                    }
                } else {
                    index.exact.entry(domain).or_insert(i);
                }
            }
        }
        // Stable sort keeps the first claimant first among equal lengths.
        index
            .suffixes
            .sort_by_key(|(suffix, _)| std::cmp::Reverse(suffix.len()));
        index
    }

    /// The index of the virtual host for `authority`; a port, if any, is ignored unless a
    /// domain names it explicitly (`example.com:8080`), as Envoy does.
    pub fn find(&self, authority: &str) -> Option<usize> {
        let lowered;
        let authority = if authority.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = authority.to_ascii_lowercase();
            lowered.as_str()
        } else {
            authority
        };
        if let Some(&i) = self.exact.get(authority) {
            return Some(i);
        }
        let host = strip_port(authority);
        if host.len() != authority.len()
            && let Some(&i) = self.exact.get(host)
        {
            return Some(i);
        }
        for (suffix, i) in &self.suffixes {
            // `*.example.com` needs at least one character before the suffix.
            if host.len() > suffix.len() && host.ends_with(suffix.as_str()) {
                return Some(*i);
            }
        }
        self.any
    }
}

fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        // [::1]:8080
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}
