/** Dutch identifier systems and checks (contract §2). */
export const BSN_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/bsn';
export const AGB_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/agb-z';
export const URA_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/ura';
export const UZI_PERSON_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/uzi-nr-pers';
export const UZI_ROLE_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/uzi-rolcode';
export const ICPC_SYSTEM = 'http://hl7.org/fhir/sid/icpc-1-nl';
export const ICPC_OID = 'urn:oid:2.16.840.1.113883.2.4.4.31.1';

/** The BSN 11-test (elfproef): 9 digits, weights 9..2 and -1, sum divisible by 11 and not 0. */
export function isValidBsn(bsn: string): boolean {
  if (!/^[0-9]{9}$/.test(bsn)) return false;
  const digits = [...bsn].map(Number);
  const sum = digits.slice(0, 8).reduce((total, digit, index) => total + digit * (9 - index), 0) - digits[8]!;
  return sum % 11 === 0 && sum !== 0;
}

export const isAgb = (value: string) => /^[0-9]{8}$/.test(value);

/** "2311cs", "2311 CS" -> "2311 CS"; undefined when it is no Dutch postcode. */
export function normalisePostcode(value: string): string | undefined {
  const match = /^\s*([1-9][0-9]{3})\s?([A-Za-z]{2})\s*$/.exec(value);
  return match ? `${match[1]} ${match[2]!.toUpperCase()}` : undefined;
}
