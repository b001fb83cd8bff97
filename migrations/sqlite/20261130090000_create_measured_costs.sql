-- Costs measured by AWS Cost Explorer and the budget crossings they caused. Every request to
-- Cost Explorer costs $0.01, so what it answered is kept here and shared by every console on
-- this database. Money in millionths of a dollar (Cost Explorer answers with ten decimals),
-- times in milliseconds since the Unix epoch, days and months in UTC (YYYY-MM-DD, YYYY-MM).

-- One row per environment: the last attempt, the last success and the month it was for.
CREATE TABLE cost_fetches (
    environment TEXT PRIMARY KEY,
    attempted_at INTEGER NOT NULL,
    -- NULL when the last attempt succeeded; else what went wrong, for the page.
    error TEXT,
    succeeded_at INTEGER,
    month TEXT NOT NULL,
    -- Read from AWS Budgets with the costs, when the environment names an AWS budget.
    budget_micros INTEGER,
    -- The budget's notification thresholds: "actual:100000000,forecast:130000000".
    budget_alerts TEXT
);

-- A day's cost of one service-tag value ('' for the costs that carry no service tag).
CREATE TABLE cost_days (
    environment TEXT NOT NULL,
    day TEXT NOT NULL,
    grp TEXT NOT NULL,
    micros INTEGER NOT NULL,
    PRIMARY KEY (environment, day, grp)
);

-- A budget threshold crossed, once per environment, month, threshold and basis (what was
-- spent, or the forecast). The notifications work sends these.
CREATE TABLE budget_crossings (
    environment TEXT NOT NULL,
    month TEXT NOT NULL,
    threshold_micros INTEGER NOT NULL,
    basis TEXT NOT NULL CHECK (basis IN ('actual', 'forecast')),
    amount_micros INTEGER NOT NULL,
    crossed_at INTEGER NOT NULL,
    PRIMARY KEY (environment, month, threshold_micros, basis)
);
