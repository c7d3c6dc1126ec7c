//! What the test cluster's name server saw, for a failed end-to-end run: a pod that
//! reported a Service's name as unknown had, just before, asked the name server for the
//! bare name (type A), which a resolver does only after its query for
//! `NAME.NS.svc.cluster.local` went unanswered; the lines show whether that query ever
//! arrived and was answered.

use crate::fake_kube::node::services::DNS_LOG;
use crate::real_cluster::RealCluster;

/// One line per bare-name A query the name server answered, with that client's queries
/// of the 15 seconds before it; empty when there was none.
pub fn fallbacks(c: &RealCluster) -> Vec<String> {
    let Some(node) = c.fake.node() else {
        return Vec::new();
    };
    fallbacks_in(&std::fs::read_to_string(node.dir.join(DNS_LOG)).unwrap_or_default())
}

fn fallbacks_in(text: &str) -> Vec<String> {
    // `ms client type name rcode`
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let [ms, client, kind, name, _] = l[..] else {
            continue;
        };
        if kind != "A" || name.contains('.') {
            continue;
        }
        let at: u128 = ms.parse().unwrap_or(0);
        let before: Vec<String> = lines[..i]
            .iter()
            .filter(|p| p.len() == 5 && p[1] == client)
            .filter_map(|p| {
                let ago = at.saturating_sub(p[0].parse().unwrap_or(0));
                (ago <= 15_000).then(|| format!("{ago} ms before: {} {} {}", p[2], p[3], p[4]))
            })
            .collect();
        out.push(format!(
            "name server: {client} asked for the bare name `{name}` at {ms} ms (a resolver's fallback after an unanswered query); its queries before: {}",
            if before.is_empty() { "none".to_string() } else { before.join("; ") }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bare_a_query_is_shown_with_what_its_client_asked_before() {
        let log = "1000 10.9.0.5 A mariadb.openstack.svc.cluster.local NoError\n\
                   1000 10.9.0.5 AAAA mariadb.openstack.svc.cluster.local NoError\n\
                   2000 10.9.0.7 AAAA mariadb NXDomain\n\
                   9000 10.9.0.5 AAAA mariadb.openstack.svc.cluster.local NoError\n\
                   14000 10.9.0.5 A mariadb NXDomain\n";
        let found = super::fallbacks_in(log);
        assert_eq!(
            found.len(),
            1,
            "eventlet's bare AAAA is not a fallback: {found:?}"
        );
        assert!(
            found[0].contains("10.9.0.5 asked for the bare name `mariadb` at 14000 ms")
                && found[0]
                    .contains("13000 ms before: A mariadb.openstack.svc.cluster.local NoError")
                && found[0].contains("5000 ms before: AAAA"),
            "{found:?}"
        );
    }
}
