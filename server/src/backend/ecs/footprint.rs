//! What an ECS service runs, as far as its cost goes: from its task definition and its
//! launch type or capacity-provider strategy.

use aws_sdk_ecs::types::{CpuArchitecture, TaskDefinition};

use super::EcsServiceState;
use crate::costs::{
    Footprint,
    estimate::{FargateTasks, Provider},
};

/// Fargate's storage without a setting.
const DEFAULT_STORAGE_GIB: u64 = 20;

pub fn footprint(state: &EcsServiceState, definition: &TaskDefinition) -> Footprint {
    let on_fargate = match state.launch_type.as_deref() {
        Some(launch) => launch == "FARGATE",
        // A strategy: Fargate when its providers are FARGATE and FARGATE_SPOT.
        None => state
            .strategy
            .iter()
            .all(|(name, _, _)| name.starts_with("FARGATE")),
    };
    if !on_fargate {
        return Footprint::Ec2;
    }
    let containers = definition.container_definitions();
    let cpu_units = definition
        .cpu()
        .and_then(cpu_units)
        .unwrap_or_else(|| containers.iter().map(|c| non_negative(c.cpu())).sum());
    let memory_mib = definition.memory().and_then(memory_mib).unwrap_or_else(|| {
        containers
            .iter()
            .map(|c| non_negative(c.memory().or(c.memory_reservation()).unwrap_or(0)))
            .sum()
    });
    let arm = definition
        .runtime_platform()
        .and_then(|p| p.cpu_architecture())
        == Some(&CpuArchitecture::Arm64);
    let storage_gib = definition
        .ephemeral_storage()
        .map_or(DEFAULT_STORAGE_GIB, |s| non_negative(s.size_in_gib()));
    Footprint::Fargate(FargateTasks {
        cpu_units,
        memory_mib,
        arm,
        storage_gib,
        running: non_negative(state.running),
        desired: non_negative(state.desired),
        strategy: state
            .strategy
            .iter()
            .map(|(name, base, weight)| Provider {
                spot: name == "FARGATE_SPOT",
                base: non_negative(*base),
                weight: non_negative(*weight),
            })
            .collect(),
    })
}

fn non_negative(n: i32) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Task-level `cpu` as ECS returns it (`"256"`) or as it may be registered (`"0.25 vCPU"`).
fn cpu_units(text: &str) -> Option<u64> {
    let text = text.trim();
    match text
        .strip_suffix("vCPU")
        .or_else(|| text.strip_suffix("vcpu"))
    {
        Some(vcpus) => {
            let vcpus: f64 = vcpus.trim().parse().ok()?;
            Some((vcpus * 1024.0).round() as u64)
        }
        None => text.parse().ok(),
    }
}

/// Task-level `memory` as ECS returns it (`"512"`, MiB) or as it may be registered (`"2 GB"`).
fn memory_mib(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_suffix("GB").or_else(|| text.strip_suffix("gb")) {
        Some(gb) => {
            let gb: f64 = gb.trim().parse().ok()?;
            Some((gb * 1024.0).round() as u64)
        }
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{ContainerDefinition, EphemeralStorage, RuntimePlatform};

    use super::*;

    fn state(launch_type: Option<&str>, strategy: &[(&str, i32, i32)]) -> EcsServiceState {
        EcsServiceState {
            task_definition_arn: "arn:shop:1".into(),
            family: "shop".into(),
            revision: 1,
            container: "app".into(),
            image: "shop:1".into(),
            desired: 2,
            running: 1,
            pending: 1,
            deployments: Vec::new(),
            circuit_breaker: None,
            launch_type: launch_type.map(str::to_owned),
            strategy: strategy
                .iter()
                .map(|(n, b, w)| ((*n).to_owned(), *b, *w))
                .collect(),
        }
    }

    #[test]
    fn task_level_sizes_win_and_containers_add_up_otherwise() {
        let definition = TaskDefinition::builder()
            .cpu("0.5 vCPU")
            .memory("1 GB")
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .build(),
            )
            .ephemeral_storage(EphemeralStorage::builder().size_in_gib(30).build())
            .build();
        let Footprint::Fargate(t) = footprint(&state(Some("FARGATE"), &[]), &definition) else {
            panic!("a Fargate service");
        };
        assert_eq!(
            (
                t.cpu_units,
                t.memory_mib,
                t.arm,
                t.storage_gib,
                t.running,
                t.desired
            ),
            (512, 1024, true, 30, 1, 2)
        );

        let definition = TaskDefinition::builder()
            .container_definitions(ContainerDefinition::builder().cpu(256).memory(512).build())
            .container_definitions(
                ContainerDefinition::builder()
                    .cpu(128)
                    .memory_reservation(256)
                    .build(),
            )
            .build();
        let Footprint::Fargate(t) = footprint(&state(Some("FARGATE"), &[]), &definition) else {
            panic!("a Fargate service");
        };
        assert_eq!(
            (t.cpu_units, t.memory_mib, t.arm, t.storage_gib),
            (384, 768, false, 20)
        );
    }

    #[test]
    fn ec2_is_from_the_bill_and_a_spot_strategy_is_kept() {
        let definition = TaskDefinition::builder().cpu("256").memory("512").build();
        assert_eq!(
            footprint(&state(Some("EC2"), &[]), &definition),
            Footprint::Ec2
        );
        assert_eq!(
            footprint(&state(None, &[("my-asg-provider", 0, 1)]), &definition),
            Footprint::Ec2
        );
        let Footprint::Fargate(t) = footprint(
            &state(None, &[("FARGATE", 1, 1), ("FARGATE_SPOT", 0, 3)]),
            &definition,
        ) else {
            panic!("Fargate by strategy");
        };
        assert_eq!(
            t.strategy,
            [
                Provider {
                    spot: false,
                    base: 1,
                    weight: 1
                },
                Provider {
                    spot: true,
                    base: 0,
                    weight: 3
                }
            ]
        );
    }
}
