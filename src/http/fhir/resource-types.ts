import { notFound } from '../../fhir/operation-outcome.js';

/** The resource types the service stores and serves through /fhir. */
export const STORED_TYPES = ['Patient', 'Practitioner', 'PractitionerRole', 'Organization', 'Consent', 'ServiceRequest', 'Task', 'Communication', 'DocumentReference'] as const;
export type StoredType = (typeof STORED_TYPES)[number];

export function storedType(type: string): StoredType {
  if (!(STORED_TYPES as readonly string[]).includes(type)) throw notFound(`Resource type ${type}`);
  return type as StoredType;
}

export const ID_PATTERN = /^[A-Za-z0-9.-]{1,64}$/;
