import { Type, type Static } from 'typebox';
import { Str, Timestamp, StringEnum } from '../../lib/schema.js';

/** base64url, as WebAuthn's JSON encodings carry binary fields; bounded so a hostile body stays small. */
const B64 = (maxLength: number) => Type.String({ pattern: '^[A-Za-z0-9_-]*$', maxLength });

const FactorName = Str({ minLength: 1, maxLength: 64, description: 'A label the person chooses.' });

/** The second step's token: `gtm_` and 40 base62 characters. */
export const MFA_TOKEN_PATTERN = '^gtm_[0-9A-Za-z]{40}$';
const MfaToken = Type.String({
  pattern: MFA_TOKEN_PATTERN,
  writeOnly: true,
  description: 'The `mfa_token` of the `mfa_required` problem that POST /api/auth/login answered.',
});
const TotpCode = Type.String({ pattern: '^[0-9]{6}$', writeOnly: true, description: 'Six digits.' });
const RecoveryCode = Str({
  minLength: 16,
  maxLength: 64,
  writeOnly: true,
  description: 'One of the recovery codes, with or without its dashes.',
});

export const MfaFactor = Type.Object(
  {
    id: Type.String(),
    kind: StringEnum(['totp', 'webauthn']),
    name: Type.String(),
    status: StringEnum(['pending', 'active']),
    created_at: Timestamp,
    confirmed_at: Type.Union([Timestamp, Type.Null()]),
    last_used_at: Type.Union([Timestamp, Type.Null()]),
  },
  { additionalProperties: false, title: 'MfaFactor' },
);
export type MfaFactor = Static<typeof MfaFactor>;

export const MfaOverview = Type.Object(
  {
    factors: Type.Array(MfaFactor),
    recovery_codes_left: Type.Integer({ description: 'Unused recovery codes.' }),
  },
  { additionalProperties: false, title: 'MfaOverview' },
);
export type MfaOverview = Static<typeof MfaOverview>;

export const EnrolTotpBody = Type.Object(
  { name: Type.Optional(FactorName) },
  { additionalProperties: false, title: 'EnrolTotpBody' },
);
export type EnrolTotpBody = Static<typeof EnrolTotpBody>;

export const TotpEnrolment = Type.Object(
  {
    id: Type.String(),
    otpauth_uri: Type.String({
      description: 'The otpauth:// URI holding the seed. Shown only in this answer; confirm with a code.',
    }),
    qr_svg: Type.String({ description: 'The same URI as a QR code (SVG).' }),
  },
  { additionalProperties: false, title: 'TotpEnrolment' },
);
export type TotpEnrolment = Static<typeof TotpEnrolment>;

export const ConfirmTotpBody = Type.Object(
  { code: TotpCode },
  { additionalProperties: false, title: 'ConfirmTotpBody' },
);
export type ConfirmTotpBody = Static<typeof ConfirmTotpBody>;

export const RecoveryCodes = Type.Object(
  {
    recovery_codes: Type.Array(Type.String(), {
      description:
        'Ten one-time codes, shown once: given when the first factor is confirmed or when regenerated; empty otherwise.',
    }),
  },
  { additionalProperties: false, title: 'RecoveryCodes' },
);
export type RecoveryCodes = Static<typeof RecoveryCodes>;

export const FactorParams = Type.Object(
  { id: Type.String({ maxLength: 128 }) },
  { additionalProperties: false },
);

/** Options for `navigator.credentials.create()` / `.get()`, as @simplewebauthn/server builds them. */
export const WebAuthnOptions = Type.Object(
  { challenge: Type.String() },
  { additionalProperties: true, title: 'WebAuthnOptions' },
);

const ExtensionResults = Type.Object({}, { additionalProperties: true, maxProperties: 16 });

export const RegistrationResponse = Type.Object(
  {
    id: B64(1024),
    rawId: B64(1024),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: B64(4096),
        attestationObject: B64(8192),
        authenticatorData: Type.Optional(B64(4096)),
        transports: Type.Optional(Type.Array(Str({ maxLength: 32 }), { maxItems: 8 })),
        publicKeyAlgorithm: Type.Optional(Type.Integer({ minimum: -65536, maximum: 65536 })),
        publicKey: Type.Optional(B64(4096)),
      },
      { additionalProperties: false },
    ),
    clientExtensionResults: ExtensionResults,
    authenticatorAttachment: Type.Optional(Str({ maxLength: 32 })),
  },
  { additionalProperties: false, title: 'RegistrationResponse' },
);

export const RegisterPasskeyBody = Type.Object(
  { name: Type.Optional(FactorName), response: RegistrationResponse },
  { additionalProperties: false, title: 'RegisterPasskeyBody' },
);
export type RegisterPasskeyBody = Static<typeof RegisterPasskeyBody>;

export const AuthenticationResponse = Type.Object(
  {
    id: B64(1024),
    rawId: B64(1024),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: B64(2048),
        authenticatorData: B64(2048),
        // Up to an RSA-8192 signature (1,366 characters); ML-DSA's 4,627 bytes are not offered (service-passkeys).
        signature: B64(2048),
        userHandle: Type.Optional(B64(256)),
      },
      { additionalProperties: false },
    ),
    clientExtensionResults: ExtensionResults,
    authenticatorAttachment: Type.Optional(Str({ maxLength: 32 })),
  },
  { additionalProperties: false, title: 'AuthenticationResponse' },
);
export type AuthenticationResponse = Static<typeof AuthenticationResponse>;

export const LoginMfaBody = Type.Object(
  {
    mfa_token: MfaToken,
    code: Type.Optional(TotpCode),
    recovery_code: Type.Optional(RecoveryCode),
    webauthn: Type.Optional(AuthenticationResponse),
  },
  {
    additionalProperties: false,
    title: 'LoginMfaBody',
    description: 'The mfa_token and exactly one of code, recovery_code or webauthn.',
  },
);
export type LoginMfaBody = Static<typeof LoginMfaBody>;

export const LoginMfaOptionsBody = Type.Object(
  { mfa_token: MfaToken },
  { additionalProperties: false, title: 'LoginMfaOptionsBody' },
);
export type LoginMfaOptionsBody = Static<typeof LoginMfaOptionsBody>;

export const PasskeyRegistered = Type.Object(
  { factor: MfaFactor, recovery_codes: RecoveryCodes.properties.recovery_codes },
  { additionalProperties: false, title: 'PasskeyRegistered' },
);
