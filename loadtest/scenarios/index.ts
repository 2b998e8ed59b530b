/** Every scenario the CLI offers, by name, and the ones waiting for their feature. */
import type { Scenario } from '../core/Scenario';
import { apiScenario } from './api';
import { signalingScenario } from './signaling';
import { rtcScenario } from './rtc';
import { moqScenario } from './moq';
import { eventsScenario } from './events';
import { hlsScenario } from './hls';

/** Scenarios in help order. */
export const scenarios: Scenario[] = [apiScenario, signalingScenario, rtcScenario, moqScenario, eventsScenario, hlsScenario];

/** Scenarios named in the plan whose feature has not landed yet: listed, never faked. */
export const pendingScenarios: Array<{ name: string; reason: string }> = [];
