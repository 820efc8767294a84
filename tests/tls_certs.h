/* tls_certs: a throw-away PKI for tests and benchmarks, made with BoringSSL
 * in process (no openssl command): a root CA, an optional intermediate, and
 * leaf certificates with chosen SANs and validity, written as PEM files.
 *
 *   tc_ca root = tc_ca_new("hookline test root", NULL);
 *   tc_ca_write(&root, "/tmp/x/ca.pem");
 *   tc_leaf_write(&root, "DNS:localhost,IP:127.0.0.1", -3600, 86400,
 *                 "/tmp/x/leaf.pem", "/tmp/x/leaf.key");
 *   tc_ca_free(&root);
 *
 * Header-only (static inline functions) so that any test or benchmark can
 * include it and use any subset. Every failure aborts, since a test cannot
 * run without its certificates. Keys are EC P-256: quick to make and use. */
#ifndef HL_TESTS_TLS_CERTS_H
#define HL_TESTS_TLS_CERTS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

typedef struct tc_ca {
  X509 *cert;
  EVP_PKEY *key;
  const struct tc_ca *parent; /* NULL for a root */
} tc_ca;

static inline void tc_check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "tls_certs: %s failed\n", what);
    abort();
  }
}

static inline EVP_PKEY *tc_key_new(void) {
  EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  EVP_PKEY *key = EVP_PKEY_new();
  tc_check(ec != NULL && key != NULL && EC_KEY_generate_key(ec) && EVP_PKEY_assign_EC_KEY(key, ec),
           "EC key");
  return key;
}

static inline void tc_add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value);
  tc_check(ext != NULL && X509_add_ext(x, ext, -1), value);
  X509_EXTENSION_free(ext);
}

/* tc_cert_new makes a certificate for |key| named |cn|, valid from
 * now + not_before_s to now + not_after_s, signed by |issuer| (NULL:
 * self-signed with |key|). */
static inline X509 *tc_cert_new(const char *cn, EVP_PKEY *key, const tc_ca *issuer,
                                long not_before_s, long not_after_s) {
  uint32_t serial = 0;
  tc_check(RAND_bytes((uint8_t *)&serial, sizeof(serial)), "RAND_bytes");
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  tc_check(x != NULL && name != NULL && X509_set_version(x, X509_VERSION_3), "X509_new");
  tc_check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const uint8_t *)cn, -1, -1, 0),
           "name");
  tc_check(X509_set_subject_name(x, name) &&
               X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer->cert) : name),
           "names");
  tc_check(ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(serial >> 1) + 1), "serial");
  tc_check(X509_gmtime_adj(X509_getm_notBefore(x), not_before_s) != NULL &&
               X509_gmtime_adj(X509_getm_notAfter(x), not_after_s) != NULL,
           "validity");
  tc_check(X509_set_pubkey(x, key), "pubkey");
  X509_NAME_free(name);
  return x;
}

static inline void tc_sign(X509 *x, EVP_PKEY *key, const tc_ca *issuer) {
  tc_check(X509_sign(x, issuer != NULL ? issuer->key : key, EVP_sha256()) > 0, "X509_sign");
}

/* tc_ca_new makes a CA named |cn|, a root (|parent| NULL) or an
 * intermediate signed by |parent|, valid for a day either side of now. */
static inline tc_ca tc_ca_new(const char *cn, const tc_ca *parent) {
  tc_ca ca = {NULL, tc_key_new(), parent};
  ca.cert = tc_cert_new(cn, ca.key, parent, -86400, 86400);
  X509 *issuer = parent != NULL ? parent->cert : ca.cert;
  tc_add_ext(ca.cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
  tc_add_ext(ca.cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  tc_sign(ca.cert, ca.key, parent);
  return ca;
}

static inline void tc_ca_free(tc_ca *ca) {
  X509_free(ca->cert);
  EVP_PKEY_free(ca->key);
  ca->cert = NULL;
  ca->key = NULL;
}

static inline void tc_pem_x509(BIO *bio, X509 *x) {
  tc_check(PEM_write_bio_X509(bio, x), "PEM_write_bio_X509");
}

/* tc_ca_write writes the CA's certificate (a trust anchor file). */
static inline void tc_ca_write(const tc_ca *ca, const char *path) {
  BIO *bio = BIO_new_file(path, "w");
  tc_check(bio != NULL, path);
  tc_pem_x509(bio, ca->cert);
  BIO_free(bio);
}

/* tc_leaf_write makes a server certificate with subjectAltName |sans|
 * ("DNS:localhost,IP:127.0.0.1"), signed by |issuer|, and writes it
 * followed by the issuer's chain up to (not including) the root to
 * |cert_path|, and its key to |key_path|. */
static inline void tc_leaf_write(const tc_ca *issuer, const char *sans, long not_before_s,
                                 long not_after_s, const char *cert_path, const char *key_path) {
  EVP_PKEY *key = tc_key_new();
  X509 *x = tc_cert_new("hookline test leaf", key, issuer, not_before_s, not_after_s);
  tc_add_ext(x, issuer->cert, NID_basic_constraints, "critical,CA:FALSE");
  tc_add_ext(x, issuer->cert, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  tc_add_ext(x, issuer->cert, NID_ext_key_usage, "serverAuth");
  tc_add_ext(x, issuer->cert, NID_subject_alt_name, sans);
  tc_sign(x, key, issuer);
  BIO *bio = BIO_new_file(cert_path, "w");
  tc_check(bio != NULL, cert_path);
  tc_pem_x509(bio, x);
  for (const tc_ca *c = issuer; c != NULL && c->parent != NULL; c = c->parent) {
    tc_pem_x509(bio, c->cert);
  }
  BIO_free(bio);
  bio = BIO_new_file(key_path, "w");
  tc_check(bio != NULL && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), key_path);
  BIO_free(bio);
  X509_free(x);
  EVP_PKEY_free(key);
}

#endif
