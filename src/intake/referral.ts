import { z } from 'zod';
import { ICPC_OID, ICPC_SYSTEM, isValidBsn, normalisePostcode } from '../identifiers/dutch-identifiers.js';

/**
 * A Welzijn op Recept referral as the HIS REST API receives it (contract §5.1). It is also the
 * channel-independent form: portal documents and FHIR transactions are read into this shape first,
 * so every channel ends in the same FHIR resources.
 */
const text = (max: number) => z.string().trim().min(1).max(max);
const date = z.iso.date({ message: 'expected a date as YYYY-MM-DD' });

const icpcCode = z.strictObject({
  code: z.string().regex(/^[A-Z][0-9]{2}(\.[0-9]{1,2})?$/, 'expected an ICPC-1 NL code such as P06 or P06.01'),
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
      given: z.array(text(100)).max(10).optional(),
      prefix: text(20).optional(),
      family: text(200),
    }),
    birthDate: date.refine((value) => value <= new Date().toISOString().slice(0, 10), 'birth date lies in the future'),
    gender: z.enum(['male', 'female', 'other', 'unknown']).optional(),
    address: z.strictObject({
      street: text(200).optional(),
      houseNumber: z.string().regex(/^[0-9]{1,5}$/, 'expected a house number of digits only').optional(),
      houseNumberAddition: text(10).optional(),
      postalCode: z
        .string()
        .transform((value, ctx) => normalisePostcode(value) ?? (ctx.addIssue({ code: 'custom', message: 'expected a Dutch postcode such as 1234 AB' }), z.NEVER)),
      city: text(100).optional(),
    }),
    phone: z.string().regex(/^\+?[0-9][0-9 ()-]{5,19}$/, 'expected a phone number such as +31612345678').optional(),
    email: z.email({ message: 'expected an e-mail address' }).max(254).optional(),
  }),
  requester: z.strictObject({
    agb: z.string().regex(/^[0-9]{8}$/, 'an AGB code is 8 digits'),
    name: text(200).optional(),
    practice: z.strictObject({
      agb: z.string().regex(/^[0-9]{8}$/, 'an AGB code is 8 digits'),
      name: text(200).optional(),
    }),
  }),
  consent: z.strictObject({
    shareWithSocialDomain: z.boolean(),
    recordedOn: date.optional(),
  }),
  note: text(2000).optional(),
});

export type Referral = z.output<typeof referralSchema>;
