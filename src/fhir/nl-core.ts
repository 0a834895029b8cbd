import type { Address, Element, Extension, HumanName } from 'fhir/r4.js';

/**
 * The Dutch name and address conventions of nl-core (zib NameInformation and AddressInformation,
 * 2020) in both directions: parts -> HumanName/Address as nl-core writes them, and back. Pure.
 */
const HL7 = 'http://hl7.org/fhir/StructureDefinition';
export const NL_CORE_EXTENSION = {
  assemblyOrder: `${HL7}/humanname-assembly-order`,
  ownPrefix: `${HL7}/humanname-own-prefix`,
  ownName: `${HL7}/humanname-own-name`,
  partnerPrefix: `${HL7}/humanname-partner-prefix`,
  partnerName: `${HL7}/humanname-partner-name`,
  nameQualifier: `${HL7}/iso21090-EN-qualifier`,
  streetName: `${HL7}/iso21090-ADXP-streetName`,
  houseNumber: `${HL7}/iso21090-ADXP-houseNumber`,
  buildingNumberSuffix: `${HL7}/iso21090-ADXP-buildingNumberSuffix`,
  additionalLocator: `${HL7}/iso21090-ADXP-additionalLocator`,
} as const;

export type AssemblyOrder = 'NL1' | 'NL2' | 'NL3' | 'NL4';

/** A Dutch person's name as the zib NameInformation has it. */
export interface DutchName {
  text?: string;
  given?: string[];
  initials?: string[];
  callName?: string;
  prefix?: string;
  family: string;
  partnerPrefix?: string;
  partnerFamily?: string;
  assemblyOrder?: AssemblyOrder;
}

export interface DutchAddress {
  line?: string;
  street?: string;
  houseNumber?: string;
  houseNumberAddition?: string;
  additionalLocator?: string;
  postalCode: string;
  city?: string;
  district?: string;
  country?: string;
  use: 'home' | 'temp';
  type?: 'postal' | 'physical' | 'both';
}

type WithParts<T> = T & { _family?: Element; _given?: Array<Element | null>; _line?: Array<Element | null> };

const stringExtension = (url: string, value: string | undefined): Extension[] => (value ? [{ url, valueString: value }] : []);
const valueOf = (extensions: Extension[] | undefined, url: string) => extensions?.find((item) => item.url === url)?.valueString;
const joined = (...parts: Array<string | undefined>) => parts.filter(Boolean).join(' ');

/**
 * The surname as the assembly order composes it: NL1 own, NL2 partner, NL3 partner-own, NL4
 * own-partner. Without an order but with a partner name: own-partner, as nl-core's examples write it.
 */
export function assembledSurname(name: Pick<DutchName, 'prefix' | 'family' | 'partnerPrefix' | 'partnerFamily' | 'assemblyOrder'>): string {
  const own = joined(name.prefix, name.family);
  const partner = name.partnerFamily ? joined(name.partnerPrefix, name.partnerFamily) : undefined;
  if (!partner) return own;
  switch (name.assemblyOrder) {
    case 'NL1':
      return own;
    case 'NL2':
      return partner;
    case 'NL3':
      return `${partner}-${own}`;
    default:
      return `${own}-${partner}`;
  }
}

/** The official name (and the call name as a usual name) as nl-core writes them. */
export function nlCoreNames(name: DutchName): HumanName[] {
  const given = [...(name.given ?? []), ...(name.initials ?? [])];
  const qualifier = (code: 'BR' | 'IN') => ({ extension: [{ url: NL_CORE_EXTENSION.nameQualifier, valueCode: code }] });
  const official: WithParts<HumanName> = {
    ...(name.assemblyOrder ? { extension: [{ url: NL_CORE_EXTENSION.assemblyOrder, valueCode: name.assemblyOrder }] } : {}),
    use: 'official',
    ...(name.text ? { text: name.text } : {}),
    family: assembledSurname(name),
    _family: {
      extension: [
        ...stringExtension(NL_CORE_EXTENSION.ownPrefix, name.prefix),
        ...stringExtension(NL_CORE_EXTENSION.ownName, name.family),
        ...stringExtension(NL_CORE_EXTENSION.partnerPrefix, name.partnerPrefix),
        ...stringExtension(NL_CORE_EXTENSION.partnerName, name.partnerFamily),
      ],
    },
    ...(given.length
      ? { given, _given: [...(name.given ?? []).map(() => qualifier('BR')), ...(name.initials ?? []).map(() => qualifier('IN'))] }
      : {}),
  };
  return [official, ...(name.callName ? [{ use: 'usual' as const, given: [name.callName] }] : [])];
}

const officialName = (names: HumanName[] | undefined) => names?.find((name) => name.use === 'official') ?? names?.find((name) => !name.use) ?? names?.[0];

/**
 * The name parts of a Patient's names: the official one (or, without one, the first) with its
 * family-name extensions and given-name qualifiers, and the call name from a usual name (zib 2020)
 * or a given name qualified CL (zib 2017). Without own-name extensions the family name is taken as
 * written. `family` is undefined when the official name has none.
 */
export function dutchNameOf(names: HumanName[] | undefined): Partial<DutchName> {
  const official = officialName(names) as WithParts<HumanName> | undefined;
  const parts = official?._family?.extension;
  const ownName = valueOf(parts, NL_CORE_EXTENSION.ownName);
  const qualifierOf = (index: number) => official?._given?.[index]?.extension?.find((item) => item.url === NL_CORE_EXTENSION.nameQualifier)?.valueCode;
  const givenParts = (official?.given ?? []).map((value, index) => ({ value, qualifier: qualifierOf(index) }));
  const usual = names?.find((name) => name !== official && name.use === 'usual')?.given?.[0];
  const given = givenParts.filter(({ qualifier }) => qualifier !== 'IN' && qualifier !== 'CL').map(({ value }) => value);
  const initials = givenParts.filter(({ qualifier }) => qualifier === 'IN').map(({ value }) => value);
  const order = official?.extension?.find((item) => item.url === NL_CORE_EXTENSION.assemblyOrder)?.valueCode;
  return {
    text: official?.text,
    ...(given.length ? { given } : {}),
    ...(initials.length ? { initials } : {}),
    callName: usual ?? givenParts.find(({ qualifier }) => qualifier === 'CL')?.value,
    prefix: ownName ? valueOf(parts, NL_CORE_EXTENSION.ownPrefix) : undefined,
    family: ownName ?? official?.family,
    partnerPrefix: valueOf(parts, NL_CORE_EXTENSION.partnerPrefix),
    partnerFamily: valueOf(parts, NL_CORE_EXTENSION.partnerName),
    assemblyOrder: order as AssemblyOrder | undefined,
  };
}

/**
 * How a letter names the patient: the first names (or else the initials) and the surname the
 * assembly order composes ("Johanna van Putten-van der Giessen", with NL2 "Johanna van der Giessen").
 */
export function addressedName(names: HumanName[] | undefined): string | undefined {
  const name = dutchNameOf(names);
  const surname = name.family ? assembledSurname({ ...name, family: name.family }) : undefined;
  const first = name.given?.join(' ') || name.initials?.join('');
  return joined(first, surname) || undefined;
}

/** The address as nl-core writes it: the line as written (or street, number and suffix), with its parts as extensions. */
export function nlCoreAddress(address: DutchAddress): Address {
  const { street, houseNumber, houseNumberAddition, additionalLocator } = address;
  const line = address.line ?? joined(street, additionalLocator, [houseNumber, houseNumberAddition].filter(Boolean).join(''));
  const lineParts = [
    ...stringExtension(NL_CORE_EXTENSION.streetName, street),
    ...stringExtension(NL_CORE_EXTENSION.houseNumber, houseNumber),
    ...stringExtension(NL_CORE_EXTENSION.buildingNumberSuffix, houseNumberAddition),
    ...stringExtension(NL_CORE_EXTENSION.additionalLocator, additionalLocator),
  ];
  const written: WithParts<Address> = {
    use: address.use,
    ...(address.type ? { type: address.type } : {}),
    ...(line ? { line: [line], ...(lineParts.length ? { _line: [{ extension: lineParts }] } : {}) } : {}),
    ...(address.city ? { city: address.city } : {}),
    ...(address.district ? { district: address.district } : {}),
    postalCode: address.postalCode,
    country: address.country ?? 'NL',
  };
  return written;
}

/** The patient's address to route by: the home address, else a temporary one, else the first. */
export function dutchAddressOf(addresses: Address[] | undefined): Record<string, string | undefined> {
  const address = (addresses?.find((item) => item.use === 'home') ?? addresses?.find((item) => item.use === 'temp') ?? addresses?.[0]) as WithParts<Address> | undefined;
  const parts = address?._line?.[0]?.extension;
  return {
    line: address?.line?.[0],
    street: valueOf(parts, NL_CORE_EXTENSION.streetName),
    houseNumber: valueOf(parts, NL_CORE_EXTENSION.houseNumber),
    houseNumberAddition: valueOf(parts, NL_CORE_EXTENSION.buildingNumberSuffix),
    additionalLocator: valueOf(parts, NL_CORE_EXTENSION.additionalLocator),
    postalCode: address?.postalCode,
    city: address?.city,
    district: address?.district,
    country: address?.country,
    use: address?.use === 'home' || address?.use === 'temp' ? address.use : undefined,
    type: address?.type,
  };
}
