"""Reading a server certificate and naming why it failed verification."""

from __future__ import annotations

import ssl

from cryptography import x509

from ..tls import TLSInfo, certificate_fingerprint
from ._facts import CertificateInfo

# OpenSSL X509_V_ERR_* codes (include/openssl/x509_vfy.h) -> the reason a user can act on.
_VERIFY_REASONS = {
    9: "not-yet-valid",  # X509_V_ERR_CERT_NOT_YET_VALID
    10: "expired",  # X509_V_ERR_CERT_HAS_EXPIRED
    18: "self-signed",  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    19: "unknown-ca",  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: a root nobody here trusts
    20: "unknown-ca",  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "unknown-ca",  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    62: "name-mismatch",  # X509_V_ERR_HOSTNAME_MISMATCH
    64: "name-mismatch",  # X509_V_ERR_IP_ADDRESS_MISMATCH
}


def verify_reason(exc: ssl.SSLCertVerificationError) -> tuple[str, str]:
    """``(reason, OpenSSL's message)`` for a failed verification."""
    message = exc.verify_message or str(exc)
    reason = _VERIFY_REASONS.get(exc.verify_code or -1)
    if reason is None:
        lowered = message.lower()
        reason = (
            "expired" if "expired" in lowered
            else "name-mismatch" if "mismatch" in lowered
            else "unknown-ca" if "issuer" in lowered
            else "other"
        )
    return reason, message


def parse_certificate(der: bytes) -> CertificateInfo:
    """Subject, issuer, SANs, validity and SHA-256 fingerprint of a DER certificate."""
    fingerprint = certificate_fingerprint(der)
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        # Unparseable certificates exist in the wild; the fingerprint still identifies it.
        return CertificateInfo("(unparseable)", "(unparseable)", (), "", "", fingerprint)
    sans: list[str] = []
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        pass
    else:
        sans += extension.value.get_values_for_type(x509.DNSName)
        sans += [str(ip) for ip in extension.value.get_values_for_type(x509.IPAddress)]
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=tuple(sans),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        fingerprint_sha256=fingerprint,
    )


def session_details(
    ssl_object: ssl.SSLObject,
    mode: str,
    *,
    verified: bool | None,
    failure: tuple[str, str] | None = None,
) -> tuple[TLSInfo, CertificateInfo | None]:
    """The facts of an established TLS session and its certificate."""
    cipher = ssl_object.cipher()
    der = ssl_object.getpeercert(binary_form=True)
    details = TLSInfo(
        mode=mode,
        version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        verified=verified,
        fingerprint=certificate_fingerprint(der) if der else None,
        verified_by="none" if verified is None else "ca",
        verify_error=failure[0] if failure else None,
        verify_message=failure[1] if failure else None,
    )
    return details, parse_certificate(der) if der else None
