/* frontend/tls_files.c — reading and checking silod's TLS certificate and key (see tls_files.h). */
#include "frontend/tls_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/small_file.h"

/* The file's whole text; NULL with "KEY PATH: why" in err. */
static char *load_pem(const char *key, const char *path, char *err, size_t err_len)
{
    char why[300];
    char *text = small_file_load(path, TLS_FILE_MAX, NULL, why, sizeof why);
    if (!text)
        snprintf(err, err_len, "%s cannot be read (%s)", key, why);   /* why names the path */
    return text;
}

static bool check_pair(struct tls_files *t, const char *cert_path, const char *key_path, char *err, size_t err_len)
{
    BIO *cb = BIO_new_mem_buf(t->cert_pem, -1), *kb = BIO_new_mem_buf(t->key_pem, -1);
    X509 *cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    bool ok = false;
    if (!cert)
        snprintf(err, err_len, "tls_cert_file %.1000s: not a PEM certificate", cert_path);
    else if (!key)
        snprintf(err, err_len, "tls_key_file %.1000s: not a PEM private key (an encrypted key is not supported)",
                 key_path);
    else if (X509_check_private_key(cert, key) != 1)
        snprintf(err, err_len, "tls_key_file %.1000s: is not the key of the certificate in tls_cert_file %.1000s",
                 key_path, cert_path);
    else {
        X509_NAME_oneline(X509_get_subject_name(cert), t->subject, sizeof t->subject);
        ok = true;
    }
    ERR_clear_error();
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(cb);
    BIO_free(kb);
    return ok;
}

bool tls_files_load(struct tls_files *t, const char *cert_path, const char *key_path, char *err, size_t err_len)
{
    memset(t, 0, sizeof *t);
    t->cert_pem = load_pem("tls_cert_file", cert_path, err, err_len);
    t->key_pem = t->cert_pem ? load_pem("tls_key_file", key_path, err, err_len) : NULL;
    if (t->key_pem && check_pair(t, cert_path, key_path, err, err_len))
        return true;
    tls_files_free(t);
    return false;
}

void tls_files_free(struct tls_files *t)
{
    if (t->key_pem) {
        OPENSSL_cleanse(t->key_pem, strlen(t->key_pem));
        free(t->key_pem);
    }
    free(t->cert_pem);
    memset(t, 0, sizeof *t);
}
