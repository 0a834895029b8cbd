/** Canonical URLs of the service's profiles, code systems and naming systems (sources in profiles/). */
export const CANONICAL_BASE = 'https://wor-bridge.nl/fhir';

export const PROFILE = {
  Patient: `${CANONICAL_BASE}/StructureDefinition/wor-patient`,
  Practitioner: `${CANONICAL_BASE}/StructureDefinition/wor-practitioner`,
  PractitionerRole: `${CANONICAL_BASE}/StructureDefinition/wor-practitioner-role`,
  PracticeOrganization: `${CANONICAL_BASE}/StructureDefinition/wor-practice-organization`,
  TeamOrganization: `${CANONICAL_BASE}/StructureDefinition/wor-team-organization`,
  Consent: `${CANONICAL_BASE}/StructureDefinition/wor-consent`,
  ServiceRequest: `${CANONICAL_BASE}/StructureDefinition/wor-service-request`,
  Task: `${CANONICAL_BASE}/StructureDefinition/wor-task`,
  Communication: `${CANONICAL_BASE}/StructureDefinition/wor-communication`,
  DocumentReference: `${CANONICAL_BASE}/StructureDefinition/wor-document-reference`,
  OutcomeReport: `${CANONICAL_BASE}/StructureDefinition/wor-outcome-report`,
} as const;

export const CODE_SYSTEM = {
  service: `${CANONICAL_BASE}/CodeSystem/wor-service`,
  arrangement: `${CANONICAL_BASE}/CodeSystem/wor-arrangement`,
  businessStep: `${CANONICAL_BASE}/CodeSystem/wor-business-step`,
  feedbackKind: `${CANONICAL_BASE}/CodeSystem/wor-feedback-kind`,
  outcomeFigure: `${CANONICAL_BASE}/CodeSystem/wor-outcome-figure`,
  outcomeStratifier: `${CANONICAL_BASE}/CodeSystem/wor-outcome-stratifier`,
} as const;

export const NAMING_SYSTEM = {
  team: `${CANONICAL_BASE}/NamingSystem/team`,
  communication: `${CANONICAL_BASE}/NamingSystem/communication`,
  /** A portal's transaction number (the ZD-number), one per referral across its documents. */
  portalReferral: (portalId: string) => `${CANONICAL_BASE}/NamingSystem/portal-referral/${portalId}`,
  /** The referrer's own referral id, under a system per referring practice. */
  practiceReferral: (agb: string) => `${CANONICAL_BASE}/NamingSystem/referral/${agb}`,
} as const;

export const CONTACT_DEADLINE_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/wor-contact-deadline`;

/** On a Communication from the coach: a chosen activity, coded with the WoR arrangement CodeSystem. */
export const ARRANGEMENT_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/wor-arrangement`;

/** Profile of the AuditEvents the audit trail writes (NEN 7513). */
export const PROFILE_AUDIT_EVENT = `${CANONICAL_BASE}/StructureDefinition/wor-audit-event`;
