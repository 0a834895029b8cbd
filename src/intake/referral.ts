import { z } from 'zod';
import { ICPC_OID, ICPC_SYSTEM, icpcCodeProblem, isAgb, isValidBsn, normalisePostcode } from '../identifiers/dutch-identifiers.js';

/**
 * A Welzijn op Recept referral as the HIS REST API receives it (contract §5.1). It is also the
 * channel-independent form: portal documents and FHIR transactions are read into this shape first,
 * so every channel ends in the same FHIR resources.
 */
const text = (max: number) => z.string().trim().min(1).max(max);
export const NAME_ASSEMBLY_ORDERS = ['NL1', 'NL2', 'NL3', 'NL4'] as const;
const date = z.iso.date({ message: 'expected a date as YYYY-MM-DD' });

const icpcCode = z.strictObject({
  code: z.string().superRefine((code, ctx) => {
    const problem = icpcCodeProblem(code);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  display: text(200).optional(),
  system: z
    .enum([ICPC_SYSTEM, ICPC_OID], { message: `expected ${ICPC_SYSTEM} (or its OID)` })
    .optional()
    .transform(() => ICPC_SYSTEM),
});

export const referralSchema = z.strictObject({
  referralId: z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/, 'expected 1-64 letters, digits or . _ : / -'),
  authoredOn: z.iso.datetime({ offset: true, message: 'expected a date-time with time zone, e.g. 2026-11-20T10:15:00+01:00' }),
  reason: z.strictObject({
    icpc: z.array(icpcCode).min(1, 'at least one ICPC code is required').max(20),
    text: text(4000).optional(),
  }),
  urgency: z.enum(['routine', 'urgent']).default('routine'),
  patient: z.strictObject({
    bsn: z.string().refine(isValidBsn, 'not a valid BSN (9 digits that pass the 11-test)'),
    name: z.strictObject({
      /** The name as the sender writes it in full (HumanName.text). */
      text: text(300).optional(),
      /** First names (voornamen; nl-core: given with qualifier BR). */
      given: z.array(text(100)).max(10).optional(),
      /** Initials, one per first name (nl-core: given with qualifier IN). */
      initials: z.array(text(10)).max(10).optional(),
      /** The name the patient is called by (roepnaam; nl-core: a second HumanName with use usual). */
      callName: text(100).optional(),
      /** Tussenvoegsel of the own surname. */
      prefix: text(20).optional(),
      /** Own surname without the tussenvoegsel. */
      family: text(200),
      partnerPrefix: text(20).optional(),
      partnerFamily: text(200).optional(),
      /** Which surnames make up the name (zib NameUsage): NL1 own, NL2 partner, NL3 partner-own, NL4 own-partner. */
      assemblyOrder: z.enum(NAME_ASSEMBLY_ORDERS).optional(),
    }).refine((name) => name.partnerFamily || !name.assemblyOrder || name.assemblyOrder === 'NL1', {
      message: 'an assembly order with the partner name needs partnerFamily',
      path: ['partnerFamily'],
    }),
    birthDate: date.refine((value) => value <= new Date().toISOString().slice(0, 10), 'birth date lies in the future'),
    gender: z.enum(['male', 'female', 'other', 'unknown']).optional(),
    address: z.strictObject({
      /** The address line as written; without it the service writes street, number and suffix. */
      line: text(300).optional(),
      street: text(200).optional(),
      houseNumber: z.string().regex(/^[0-9]{1,5}$/, 'expected a house number of digits only').optional(),
      houseNumberAddition: text(10).optional(),
      /** Aanduiding bij nummer: "to" (tegenover) or "by" (bij). */
      additionalLocator: z.enum(['to', 'by']).optional(),
      postalCode: z
        .string()
        .transform((value, ctx) => normalisePostcode(value) ?? (ctx.addIssue({ code: 'custom', message: 'expected a Dutch postcode such as 1234 AB' }), z.NEVER)),
      city: text(100).optional(),
      /** The municipality (gemeente). */
      district: text(100).optional(),
      /** As written; the service writes NL when it is absent. */
      country: text(100).optional(),
      use: z.enum(['home', 'temp']).default('home'),
      type: z.enum(['postal', 'physical', 'both']).optional(),
    }),
    phone: z.string().regex(/^\+?[0-9][0-9 ()-]{5,19}$/, 'expected a phone number such as +31612345678').optional(),
    email: z.email({ message: 'expected an e-mail address' }).max(254).optional(),
  }),
  requester: z
    .strictObject({
      /** The practitioner's identifiers: at least one of AGB, BIG and UZI. */
      agb: z.string().refine(isAgb, 'an AGB code is 8 digits').optional(),
      big: z.string().regex(/^[0-9]{11}$/, 'a BIG number is 11 digits').optional(),
      uzi: z.string().regex(/^[0-9]{9}$/, 'a UZI number is 9 digits').optional(),
      name: text(200).optional(),
      /** The UZI role code (01.015 huisarts when absent) and where the PractitionerRole carries it. */
      role: z
        .strictObject({
          code: z.string().regex(/^[0-9]{2}\.[0-9]{3}$/, 'expected a UZI role code such as 01.015 (huisarts)'),
          display: text(200).optional(),
          element: z.enum(['code', 'specialty']).default('code'),
        })
        .default({ code: '01.015', display: 'Huisarts', element: 'code' }),
      practice: z.strictObject({
        agb: z.string().refine(isAgb, 'an AGB code is 8 digits'),
        ura: z.string().regex(/^[0-9]{8}$/, 'a URA number is 8 digits').optional(),
        name: text(200).optional(),
      }),
    })
    .refine((requester) => requester.agb || requester.big || requester.uzi, { message: 'the practitioner needs an AGB, BIG or UZI number' }),
  consent: z.strictObject({
    shareWithSocialDomain: z.boolean(),
    recordedOn: date.optional(),
  }),
  note: text(2000).optional(),
});

export type Referral = z.output<typeof referralSchema>;
