// Reason codes the route phase raises; they live in src/types/Reason.ts with
// the others (one list, part of the public contract).
import { Reason } from '../types/Reason.ts';

export const RouteReason = {
  pathRejected: Reason.pathRejected,
  hostRejected: Reason.hostRejected,
  bodyMissing: Reason.bodyMissing,
  routeUnmatched: Reason.routeUnmatched,
  routeUnknown: Reason.routeUnknown,
} as const;
