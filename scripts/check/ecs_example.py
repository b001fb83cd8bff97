"""Registers examples/ecs with moto through boto3, as `aws ecs register-task-definition
--cli-input-json` and `aws ecs create-service --cli-input-json` would: botocore refuses a key the
API does not have or a value of the wrong type, and moto refuses what ECS and IAM refuse (a
malformed policy). Run by scripts/test.sh while its moto runs (FLIGHTDECK_TEST_MOTO_URL)."""

import json
import os
import sys

import boto3

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "ecs")


def load(name):
    with open(os.path.join(EXAMPLE, name)) as f:
        return json.load(f)


def main():
    session = boto3.session.Session(region_name="eu-west-1")
    url = os.environ["FLIGHTDECK_TEST_MOTO_URL"]
    ecs = session.client("ecs", endpoint_url=url)
    iam = session.client("iam", endpoint_url=url)

    for name in ("iam-task-policy.json", "iam-execution-policy.json"):
        iam.create_policy(
            PolicyName="example-" + name.removesuffix(".json"),
            PolicyDocument=json.dumps(load(name)),
        )
    task = load("task-definition.json")
    registered = ecs.register_task_definition(**task)["taskDefinition"]
    # The network and target group the example's placeholders stand for, made on moto as a user
    # makes theirs, and put in place of them.
    service = load("service.json")
    ec2 = session.client("ec2", endpoint_url=url)
    elb = session.client("elbv2", endpoint_url=url)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    network = service["networkConfiguration"]["awsvpcConfiguration"]
    network["subnets"] = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        for cidr in ("10.0.1.0/24", "10.0.2.0/24")
    ]
    network["securityGroups"] = [
        ec2.create_security_group(GroupName="flightdeck", Description="console", VpcId=vpc)["GroupId"]
    ]
    service["loadBalancers"][0]["targetGroupArn"] = elb.create_target_group(
        Name="flightdeck", Protocol="HTTP", Port=3000, VpcId=vpc, TargetType="ip",
        HealthCheckPath="/readyz",
    )["TargetGroups"][0]["TargetGroupArn"]
    ecs.create_cluster(clusterName=service["cluster"])
    created = ecs.create_service(**service)["service"]

    # What the console relies on, as ECS stored it.
    console = next(c for c in registered["containerDefinitions"] if c["name"] == "flightdeck")
    problems = []
    if console["healthCheck"]["command"] != ["CMD", "/usr/local/bin/flightdeck", "healthcheck"]:
        problems.append("the console's health check is not `flightdeck healthcheck`")
    if created["desiredCount"] != 2:
        problems.append("the service does not run two replicas")
    if created["loadBalancers"][0]["containerName"] != console["name"]:
        problems.append("the target group does not point at the console's container")
    for problem in problems:
        print("examples/ecs: " + problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(
        "examples/ecs: task definition %s:%d and service %s accepted; both IAM policies accepted"
        % (registered["family"], registered["revision"], created["serviceName"])
    )


main()
