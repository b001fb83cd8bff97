//! An ECS service's logs from CloudWatch Logs, where the `awslogs` driver of its task
//! definition's container sends them: the log group and region from the driver's options, and
//! the streams `PREFIX/CONTAINER/TASK-ID` of the service's tasks. Read with `FilterLogEvents`;
//! followed by asking again from the last time seen, skipping the events already given (as
//! `aws logs tail --follow` does: CloudWatch's live tail is a separate, paid API).

use std::{collections::HashSet, time::Duration};

use aws_sdk_cloudwatchlogs::Client as LogsClient;
use aws_sdk_ecs::types::DesiredStatus;
use flightdeck_app::model::{EnvName, LogLine, LogStream, Timestamp};

use super::deploy::{EcsBackend, ecs_target};
use crate::{
    backend::{BackendError, LogBatch, LogFollow, LogRequest},
    config::TargetKind,
};

/// How often a follow asks CloudWatch for new events.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);
/// Streams one `FilterLogEvents` may name (the API's limit).
const STREAMS_PER_CALL: usize = 100;
/// Events read at most for one page, newest kept: a range with more is cut to its newest.
const EVENTS_READ: usize = 20_000;

/// Where a container's logs go, from its `awslogs` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsLogs {
    pub group: String,
    pub region: Option<String>,
    pub prefix: String,
    pub container: String,
}

impl AwsLogs {
    /// The stream of one task's container: `PREFIX/CONTAINER/TASK-ID`.
    pub fn stream_of(&self, task_arn: &str) -> String {
        let id = task_arn.rsplit('/').next().unwrap_or(task_arn);
        format!("{}/{}/{id}", self.prefix, self.container)
    }
}

/// The `awslogs` settings of `container` in a task definition's words, or why there are none.
pub fn awslogs_of(
    definition: &aws_sdk_ecs::types::TaskDefinition,
    container: &str,
) -> Result<AwsLogs, String> {
    let found = definition
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some(container))
        .ok_or_else(|| format!("the task definition has no container {container}"))?;
    let config = found.log_configuration().ok_or_else(|| {
        format!("container {container} has no log configuration (logConfiguration) to read")
    })?;
    if config.log_driver().as_str() != "awslogs" {
        return Err(format!(
            "container {container} logs with the {} driver; only awslogs (CloudWatch Logs) is read",
            config.log_driver().as_str()
        ));
    }
    let options = config.options();
    let option = |key: &str| options.and_then(|o| o.get(key)).cloned();
    Ok(AwsLogs {
        group: option("awslogs-group")
            .ok_or_else(|| format!("container {container}'s awslogs has no awslogs-group"))?,
        region: option("awslogs-region"),
        prefix: option("awslogs-stream-prefix").ok_or_else(|| {
            format!(
                "container {container}'s awslogs has no awslogs-stream-prefix, so its streams \
                 cannot be told from other tasks'"
            )
        })?,
        container: container.to_owned(),
    })
}

impl EcsBackend {
    /// Where the service's running container logs to, and the streams of its tasks (stopped
    /// ones for `previous`: what the tasks a deploy replaced wrote).
    async fn log_streams(
        &self,
        target: &TargetKind,
        previous: bool,
    ) -> Result<(AwsLogs, Vec<String>), BackendError> {
        let (service, _) = ecs_target(target)?;
        let (state, definition) = self.running_definition(target).await?.ok_or_else(|| {
            BackendError::NotFound(format!("ECS service {service} does not exist"))
        })?;
        let logs = awslogs_of(&definition, &state.container).map_err(BackendError::Failed)?;
        let status = if previous {
            DesiredStatus::Stopped
        } else {
            DesiredStatus::Running
        };
        let listed = self
            .client()
            .list_tasks()
            .cluster(self.cluster())
            .service_name(service)
            .desired_status(status)
            .send()
            .await
            .map_err(|e| self.error("cannot list the service's tasks", &e))?;
        let arns = listed.task_arns().to_vec();
        if arns.is_empty() {
            return Ok((logs, Vec::new()));
        }
        // Tasks the service started carry the group `service:NAME`: a task run by hand in the
        // same cluster is not the service's.
        let described = self
            .client()
            .describe_tasks()
            .cluster(self.cluster())
            .set_tasks(Some(arns))
            .send()
            .await
            .map_err(|e| self.error("cannot read the service's tasks", &e))?;
        let group = format!("service:{service}");
        let streams = described
            .tasks()
            .iter()
            .filter(|t| t.group() == Some(group.as_str()))
            .filter_map(|t| t.task_arn())
            .map(|arn| logs.stream_of(arn))
            .take(STREAMS_PER_CALL)
            .collect();
        Ok((logs, streams))
    }

    pub(super) async fn read_logs(
        &self,
        target: &TargetKind,
        request: &LogRequest,
    ) -> Result<LogBatch, BackendError> {
        let (logs, streams) = self.log_streams(target, request.previous).await?;
        let source = format!("CloudWatch Logs {} ({} streams)", logs.group, streams.len());
        if streams.is_empty() {
            return Ok(LogBatch {
                source,
                lines: Vec::new(),
            });
        }
        let client = self.logs_client(logs.region.as_deref()).await;
        let mut lines = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let answer = client
                .filter_log_events()
                .log_group_name(&logs.group)
                .set_log_stream_names(Some(streams.clone()))
                .set_start_time(request.since.map(Timestamp::unix_millis))
                .set_end_time(request.until.map(Timestamp::unix_millis))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| self.error(&format!("cannot read log group {}", logs.group), &e))?;
            lines.extend(answer.events().iter().filter_map(|e| {
                Some(LogLine {
                    at: Timestamp::from_unix_millis(e.timestamp()?),
                    stream: LogStream::Stdout,
                    text: e.message()?.trim_end_matches(['\n', '\r']).to_owned(),
                })
            }));
            // The newest matter: past the cap, the oldest go.
            if lines.len() > EVENTS_READ {
                lines.drain(..lines.len() - EVENTS_READ);
            }
            match answer.next_token() {
                Some(next) if !answer.events().is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        // Several streams interleave: in time order, the newest `tail`.
        lines.sort_by_key(|l| l.at);
        let skip = lines.len().saturating_sub(request.tail);
        lines.drain(..skip);
        Ok(LogBatch { source, lines })
    }

    pub(super) async fn follow(
        &self,
        target: &TargetKind,
        since: Timestamp,
    ) -> Result<LogFollow, BackendError> {
        let (logs, streams) = self.log_streams(target, false).await?;
        if streams.is_empty() {
            return Err(BackendError::NotFound(format!(
                "the service has no running task writing to {}",
                logs.group
            )));
        }
        let client = self.logs_client(logs.region.as_deref()).await;
        let environment = self.environment().clone();
        let state = Poll {
            client,
            group: logs.group,
            streams,
            since: since.unix_millis(),
            seen: HashSet::new(),
            ticks: tokio::time::interval(FOLLOW_EVERY),
            pending: std::collections::VecDeque::new(),
            environment,
        };
        Ok(Box::pin(futures_util::stream::unfold(state, Poll::next)))
    }
}

/// A follow's state: the time asked from and the ids of the events of that millisecond
/// already given, so asking again from the same time repeats nothing.
struct Poll {
    client: LogsClient,
    group: String,
    streams: Vec<String>,
    since: i64,
    seen: HashSet<String>,
    ticks: tokio::time::Interval,
    pending: std::collections::VecDeque<LogLine>,
    environment: EnvName,
}

impl Poll {
    async fn next(mut self) -> Option<(Result<LogLine, BackendError>, Self)> {
        loop {
            if let Some(line) = self.pending.pop_front() {
                return Some((Ok(line), self));
            }
            self.ticks.tick().await;
            let answer = self
                .client
                .filter_log_events()
                .log_group_name(&self.group)
                .set_log_stream_names(Some(self.streams.clone()))
                .start_time(self.since)
                .send()
                .await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => {
                    let what = format!("cannot read log group {}", self.group);
                    let error = super::api_error(&self.environment, &what, &e);
                    return Some((Err(error), self));
                }
            };
            let mut events: Vec<_> = answer
                .events()
                .iter()
                .filter_map(|e| Some((e.timestamp()?, e.event_id()?.to_owned(), e.message()?)))
                .filter(|(_, id, _)| !self.seen.contains(id))
                .map(|(at, id, text)| (at, id, text.trim_end_matches(['\n', '\r']).to_owned()))
                .collect();
            events.sort_by_key(|(at, _, _)| *at);
            for (at, id, text) in events {
                if at > self.since {
                    self.since = at;
                    self.seen.clear();
                }
                self.seen.insert(id);
                self.pending.push_back(LogLine {
                    at: Timestamp::from_unix_millis(at),
                    stream: LogStream::Stdout,
                    text,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration, LogDriver, TaskDefinition};

    use super::*;

    fn definition(driver: LogDriver, options: &[(&str, &str)]) -> TaskDefinition {
        let mut config = LogConfiguration::builder().log_driver(driver);
        for (k, v) in options {
            config = config.options(*k, *v);
        }
        TaskDefinition::builder()
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .log_configuration(config.build().unwrap())
                    .build(),
            )
            .build()
    }

    #[test]
    fn the_group_and_streams_come_from_the_awslogs_options() {
        let logs = awslogs_of(
            &definition(
                LogDriver::Awslogs,
                &[
                    ("awslogs-group", "/ecs/shop"),
                    ("awslogs-region", "eu-west-1"),
                    ("awslogs-stream-prefix", "shop"),
                ],
            ),
            "app",
        )
        .unwrap();
        assert_eq!(logs.group, "/ecs/shop");
        assert_eq!(logs.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            logs.stream_of("arn:aws:ecs:eu-west-1:123:task/prod/0f1e2d3c"),
            "shop/app/0f1e2d3c"
        );
    }

    #[test]
    fn another_driver_or_no_prefix_says_why_it_cannot_be_read() {
        let splunk = awslogs_of(&definition(LogDriver::Splunk, &[]), "app").unwrap_err();
        assert!(splunk.contains("splunk driver"), "{splunk}");
        let no_prefix = awslogs_of(
            &definition(LogDriver::Awslogs, &[("awslogs-group", "/g")]),
            "app",
        )
        .unwrap_err();
        assert!(no_prefix.contains("awslogs-stream-prefix"), "{no_prefix}");
        let elsewhere = awslogs_of(&definition(LogDriver::Awslogs, &[]), "web").unwrap_err();
        assert!(elsewhere.contains("no container web"), "{elsewhere}");
    }
}
