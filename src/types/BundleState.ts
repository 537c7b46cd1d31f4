// What each configured remote bundle (bundles.<name>) is doing, for whoever
// reports on it (status reports, the service log): the fields are named as in
// OPA's status report, so a reporter can copy them across.

/** A failure since the bundle's last success: which stage, what, when (ISO time). */
export interface BundleFailure {
  readonly stage: 'download' | 'load' | 'persist';
  readonly message: string;
  readonly at: string;
  /** The server's HTTP status, when it answered with an unexpected one (OPA's http_code). */
  readonly http_status?: number | undefined;
}

export interface BundleState {
  readonly name: string;
  /**
   * not_loaded: nothing usable yet; waiting: this bundle loaded, but another
   * configured bundle has not (nothing serves until all have); active: its
   * revision is part of the policy serving now.
   */
  readonly phase: 'not_loaded' | 'waiting' | 'active';
  /** Its revision in the policy serving now (undefined before the first activation). */
  readonly active_revision: string | undefined;
  /** ISO times: every request; each one answered (200 or 304); each new bundle downloaded; each activation of a new revision of it. */
  readonly last_request: string | undefined;
  readonly last_successful_request: string | undefined;
  readonly last_successful_download: string | undefined;
  readonly last_successful_activation: string | undefined;
  /** Bytes of the last bundle downloaded (OPA's size). */
  readonly size: number | undefined;
  /** The last failure, until a later download of this bundle loads or answers 304. */
  readonly last_error: BundleFailure | undefined;
}
