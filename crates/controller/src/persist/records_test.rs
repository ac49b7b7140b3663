use super::*;
use lockgate_compiled::Action;

use crate::persist::chunks::MAX_ITEMS;
use crate::persist::fixtures::{self, config, state, with_changed_route};

/// Splits with nothing stored, as a first persist does.
fn first_split(state: &PolicyState) -> Split {
    split(state, &Index::default(), &HashSet::new()).expect("splits")
}

/// Splits `state` after `before`, whose records are all stored.
fn next_split(state: &PolicyState, before: &Split) -> Split {
    let present = before.referenced.iter().cloned().collect();
    split(state, &before.index, &present).expect("splits")
}

fn joined(split: &Split) -> PolicyState {
    let manifest = Manifest::decode(&split.manifest).expect("manifest decodes");
    join(&manifest, &split.fresh).expect("joins").0
}

fn kinds(fresh: &BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    fresh
        .keys()
        .map(|n| n.split('/').nth(1).expect("kind"))
        .collect()
}

#[test]
fn a_state_split_into_records_joins_back_to_itself() {
    let state = state(config(5, 300));
    let split = first_split(&state);
    assert_eq!(
        split.referenced,
        split.fresh.keys().cloned().collect::<BTreeSet<_>>(),
        "nothing stored yet: every record is written"
    );
    for (name, bytes) in &split.fresh {
        assert!(name.starts_with(PREFIX), "{name}");
        assert!(matches_name(name, bytes), "{name}");
        assert!(bytes.len() <= PART_MAX);
    }
    assert_eq!(joined(&split), state);
}

#[test]
fn a_large_host_is_cut_into_chunks_of_bounded_size() {
    let split = first_split(&state(config(1, 5_000)));
    let manifest = Manifest::decode(&split.manifest).unwrap();
    let chunks = &manifest.host_entries(&split.fresh).unwrap()[0].chunks;
    assert!(
        chunks.len() >= 5_000 / MAX_ITEMS,
        "{} chunks for 5,000 routes",
        chunks.len()
    );
    let index = &split.index.hosts["team0.app"];
    assert!(index.iter().all(|c| c.range.len() <= MAX_ITEMS));
    assert_eq!(index.last().map(|c| c.range.end), Some(5_000));
}

#[test]
fn the_same_state_again_writes_nothing_and_names_the_same_records() {
    let state = state(config(3, 100));
    let first = first_split(&state);
    let again = next_split(&state.clone(), &first);
    assert!(again.fresh.is_empty(), "{:?}", again.fresh.keys());
    assert_eq!(again.manifest, first.manifest);
}

#[test]
fn one_changed_route_rewrites_only_its_chunk() {
    let before = config(4, 1_000);
    let first = first_split(&state(before.clone()));
    let after = state(with_changed_route(&before, 2, 517));
    let next = next_split(&after, &first);
    assert_eq!(
        kinds(&next.fresh),
        ["hosts", "routes"],
        "one route record, and the host record naming it"
    );
    assert_eq!(
        (next.cut, next.serialised),
        (2, 2),
        "only the changed host's routes and the host list are cut again, one chunk of each serialised"
    );
    assert_eq!(joined_with(&first, &next), after);
}

/// Joins `next` with the records of `first` it still names.
fn joined_with(first: &Split, next: &Split) -> PolicyState {
    let mut parts = first.fresh.clone();
    parts.extend(next.fresh.clone());
    let manifest = Manifest::decode(&next.manifest).unwrap();
    join(&manifest, &parts).expect("joins").0
}

#[test]
fn a_route_added_in_the_middle_of_a_large_host_moves_no_other_boundary() {
    let before = config(1, 2_000);
    let first = first_split(&state(before.clone()));
    let mut hosts = before.virtual_hosts.clone();
    let mut added = hosts[0].routes[1_000].clone();
    Arc::make_mut(&mut added).origin.push_str(" (added)");
    hosts[0].routes.insert(1_000, added);
    let after = state(CompiledConfig::new(hosts, before.clusters.clone()));
    let next = next_split(&after, &first);
    // The chunk that holds it changes; should it end a chunk, so does the next one.
    assert!(
        (1..=2).contains(&next.fresh.len()),
        "{:?}",
        next.fresh.keys()
    );
    assert_eq!(joined_with(&first, &next), after);
}

#[test]
fn a_cluster_added_first_renumbers_every_id_but_rewrites_no_route_record() {
    let before = config(3, 200);
    let first = first_split(&state(before.clone()));
    // A cluster sorting before all others shifts every cluster index by one.
    let mut clusters = vec![Cluster::new(
        ClusterKey {
            upstream_namespace: "aaa".into(),
            upstream_name: "first".into(),
            subset: BTreeMap::new(),
        },
        Vec::new(),
    )];
    clusters.extend(before.clusters.iter().cloned());
    let mut hosts = before.virtual_hosts.clone();
    for host in &mut hosts {
        for route in &mut host.routes {
            for id in Arc::make_mut(route).cluster_ids_mut() {
                id.0 += 1;
            }
        }
    }
    let after = state(CompiledConfig::new(hosts, clusters));
    let next = next_split(&after, &first);
    assert_eq!(kinds(&next.fresh), ["clusters"]);
    assert_eq!(joined_with(&first, &next), after);
}

#[test]
fn new_endpoints_rewrite_only_the_cluster_record() {
    let before = config(3, 50);
    let first = first_split(&state(before.clone()));
    let mut clusters = before.clusters.clone();
    clusters[1] = fixtures::cluster(1, 20_001);
    let after = state(CompiledConfig::new(before.virtual_hosts.clone(), clusters));
    let next = next_split(&after, &first);
    assert_eq!(kinds(&next.fresh), ["clusters"]);
    assert_eq!(joined_with(&first, &next), after);
}

#[test]
fn kept_resources_are_one_record_each_and_reused_while_unchanged() {
    let mut before = state(config(1, 10));
    before.last_valid_route_tables.insert(
        "team0.other".into(),
        fixtures::route_table("other", "/other"),
    );
    let first = first_split(&before);
    assert_eq!(
        kinds(&first.fresh).iter().filter(|k| **k == "rt").count(),
        2
    );
    let mut after = before.clone();
    after.last_valid_route_tables.insert(
        "team0.other".into(),
        fixtures::route_table("other", "/else"),
    );
    after.last_valid_virtual_services.clear();
    let next = next_split(&after, &first);
    assert_eq!(kinds(&next.fresh), ["rt"]);
    assert!(!next.referenced.iter().any(|n| n.starts_with("lkg/vs/")));
    assert_eq!(joined_with(&first, &next), after);
}

#[test]
fn a_record_over_the_part_size_is_cut_into_parts() {
    let mut config = config(1, 3);
    let mut hosts = config.virtual_hosts.clone();
    Arc::make_mut(&mut hosts[0].routes[0]).action = Action::DirectResponse {
        status: 200,
        body: "x".repeat(PART_MAX * 2 + 10),
    };
    config = CompiledConfig::new(hosts, config.clusters.clone());
    let state = state(config);
    let split = first_split(&state);
    let manifest = Manifest::decode(&split.manifest).unwrap();
    assert_eq!(
        manifest.host_entries(&split.fresh).unwrap()[0].chunks[0].len(),
        3,
        "three parts"
    );
    assert!(split.fresh.values().all(|b| b.len() <= PART_MAX));
    assert_eq!(joined(&split), state);
}

#[test]
fn a_reused_record_the_store_lacks_is_written_again() {
    let state = state(config(2, 40));
    let first = first_split(&state);
    let lost = first
        .referenced
        .iter()
        .find(|n| n.starts_with("lkg/routes/"))
        .unwrap()
        .clone();
    let mut present: HashSet<String> = first.referenced.iter().cloned().collect();
    present.remove(&lost);
    let again = split(&state, &first.index, &present).unwrap();
    assert_eq!(again.fresh.keys().collect::<Vec<_>>(), [&lost]);
    assert_eq!(again.fresh[&lost], first.fresh[&lost]);
}

#[test]
fn joining_refuses_missing_and_inconsistent_records() {
    let state = state(config(2, 40));
    let split = first_split(&state);
    let manifest = Manifest::decode(&split.manifest).unwrap();

    let mut missing = split.fresh.clone();
    let routes = missing
        .keys()
        .find(|n| n.starts_with("lkg/routes/"))
        .unwrap()
        .clone();
    missing.remove(&routes);
    let err = join(&manifest, &missing).unwrap_err();
    assert!(err.contains("is missing"), "{err}");

    // Routes that name a cluster no cluster record holds.
    let mut no_clusters = manifest.clone();
    no_clusters.clusters.clear();
    let err = join(&no_clusters, &split.fresh).unwrap_err();
    assert!(err.contains("names a cluster no record holds"), "{err}");

    let newer = br#"{"format":2,"hosts":[],"clusters":[]}"#;
    assert!(Manifest::decode(newer).unwrap_err().contains("format 2"));
    assert!(!matches_name(&routes, b"other bytes"));
}

#[test]
fn chunk_boundaries_depend_on_items_not_on_positions() {
    let origins: Vec<String> = (0..1_000).map(|i| format!("route {i}")).collect();
    let ranges = chunk_ranges(origins.len(), |i| boundary_hash(&origins[i]));
    let shifted = chunk_ranges(origins.len() - 1, |i| boundary_hash(&origins[i + 1]));
    // Dropping the first item moves every boundary after the first chunk by exactly one.
    let tail: Vec<_> = ranges[1..].iter().map(|r| r.end - 1).collect();
    let tail_shifted: Vec<_> = shifted[1..].iter().map(|r| r.end).collect();
    assert_eq!(tail, tail_shifted);
    assert!(ranges.len() > 1_000 / MAX_ITEMS && ranges.len() < 1_000 / 4);
    assert_eq!(boundary_hash("route 1"), boundary_hash("route 1"));
}
