import { bus } from "./bus.ts";
import { channels } from "./channels.ts";
import { chatter } from "./chatter.ts";
import { crossnode } from "./crossnode.ts";
import { fanout } from "./fanout.ts";
import { http } from "./http.ts";
import { idle } from "./idle.ts";
import { presence } from "./presence.ts";
import { slow } from "./slow.ts";
import { webhooks } from "./webhooks.ts";
import type { Scenario, ScenarioName } from "./types.ts";

export const SCENARIO_TABLE: Record<ScenarioName, Scenario> = { fanout, channels, chatter, presence, idle, http, crossnode, slow, webhooks, bus };
