/** What a scenario gets and gives back to bench/run.ts. */

export interface ScenarioContext {
  /** Short smoke version: fewer routes, nodes, repetitions and a shorter window. */
  quick: boolean;
  /** Headline numbers of the scenarios that already ran in this process, by scenario name. */
  results: Map<string, Record<string, number>>;
}

export interface ScenarioResult {
  /** Headline numbers (ms, counts, ratios) other scenarios and the summary may use. */
  metrics: Record<string, number>;
  /** One or more lines for the final summary. */
  summary: string[];
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}
