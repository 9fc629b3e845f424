//! FRED's part of `plume demo`: an 8-port switch routed for two all-reduce groups and a
//! multicast (drawn), the switch simulated against the flow golden model, and a 64 MiB
//! all-reduce on the wafer model — Fred-D against the mesh, data checked at every NPU on a
//! small run, link loads drawn, the schedule written as a Chakra trace.

use super::collective::{groups, Collective};
use super::fabric::{FabricConfig, Kind};
use super::{draw, heat, human_ns, simulate};
use crate::error::{bad, Result};
use crate::output::{dir_target, file_target, write_file};
use crate::registry::{self, Design};
use plume_hw::fred::network::{Flow, Network};
use plume_hw::fred::router::route;
use plume_sim::harness;
use std::path::Path;

pub fn demo(out_dir: &Path) -> Result<()> {
    dir_target(out_dir, |_| true)?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| bad(format!("cannot create {}: {e}", out_dir.display())))?;
    let names = [
        "fred8.svg",
        "fred_fabric_fred-d.svg",
        "fred_fabric_mesh.svg",
    ];
    let targets = names
        .iter()
        .map(|f| file_target(&out_dir.join(f), "demo output"))
        .collect::<Result<Vec<_>>>()?;
    // The switch: route, draw, simulate.
    let sc = super::switch::FRED_SWITCH.board_config();
    let net = Network::new(&sc.net);
    let flows = vec![
        Flow {
            ins: vec![0, 1, 2],
            outs: vec![0, 1, 2],
        },
        Flow {
            ins: vec![3, 4, 5, 6],
            outs: vec![3, 4, 5, 6],
        },
        Flow {
            ins: vec![7],
            outs: vec![7],
        },
    ];
    let masks = route(&net, &flows, None).map_err(|e| super::route_error(e, ""))?;
    write_file(&targets[0], draw::svg(&net, &masks, &flows).as_bytes())?;
    let inst = registry::instance(&super::switch::FRED_SWITCH, sc);
    let top = inst.top()?;
    let mut tb = inst.testbench(3000, 1)?;
    let r = harness::simulate(&top, tb.as_mut(), None, false).map_err(|e| bad(e.to_string()))?;
    crate::outln!(
        "plume demo: FRED switch {} — {} flits through random routed phases, every one the flow golden model's; {} drawn",
        sc.module_name(),
        r.checked,
        names[0]
    );
    // The fabric: data checked on a small run, then 64 MiB with the link loads drawn.
    for (k, kind) in [Kind::FredD, Kind::Mesh].into_iter().enumerate() {
        let fc = FabricConfig::wafer(kind, 20);
        let small = simulate(
            &fc,
            Collective::AllReduce,
            groups(20, 2, 2, "all").map_err(bad)?,
            80 * 1024,
            true,
            &mut |_, _| {},
        )?;
        let big = simulate(
            &fc,
            Collective::AllReduce,
            groups(20, 2, 2, "all").map_err(bad)?,
            64 << 20,
            false,
            &mut |_, _| {},
        )?;
        let title = format!(
            "{} all-reduce of 64 MiB per NPU on 20 NPUs: {}",
            kind.name(),
            human_ns(big.outcome.time_ns)
        );
        write_file(
            &targets[1 + k],
            heat::svg(&big.fabric, &big.outcome, &title).as_bytes(),
        )?;
        crate::outln!(
            "  {} all-reduce, 20 NPUs: 64 MiB in {}, {:.2} D sent per NPU; 80 KiB exact at all {} NPUs; {} drawn",
            kind.name(),
            human_ns(big.outcome.time_ns),
            big.outcome.sent[0] as f64 / (64u64 << 20) as f64,
            small.verified.unwrap_or(0),
            names[1 + k]
        );
    }
    Ok(())
}
