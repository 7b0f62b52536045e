// Typed wrappers for libcurl's variadic calls, which Swift cannot call directly.
#ifndef COFFER_CCURL_SHIMS_H
#define COFFER_CCURL_SHIMS_H
#include <curl/curl.h>

CURLcode coffer_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode coffer_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
CURLcode coffer_curl_setopt_ptr(CURL *handle, CURLoption option, const void *value);
CURLcode coffer_curl_setopt_write_cb(CURL *handle, curl_write_callback callback);
CURLcode coffer_curl_setopt_header_cb(CURL *handle, curl_write_callback callback);
CURLcode coffer_curl_setopt_read_cb(CURL *handle, curl_read_callback callback);
CURLcode coffer_curl_setopt_seek_cb(CURL *handle, curl_seek_callback callback);
CURLcode coffer_curl_getinfo_long(CURL *handle, CURLINFO info, long *out);
CURLcode coffer_curl_getinfo_ptr(CURL *handle, CURLINFO info, void **out);
CURLMcode coffer_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);
/// The easy handle and result of a finished transfer from curl_multi_info_read, or 0 when none is pending.
int coffer_curl_multi_next_done(CURLM *multi, CURL **easy, CURLcode *result);
#endif
