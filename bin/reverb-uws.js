#!/usr/bin/env bun
import "../src/cli.ts";
