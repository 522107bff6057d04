/*
 * exchange(a, b): swaps two paths in one step (Linux renameat2 with RENAME_EXCHANGE), so an output
 * folder is replaced by its new version with no instant where neither is there. Node has no binding
 * for it. Throws an Error with the errno's name as `code` (ENOSYS, EINVAL where the filesystem
 * cannot: the caller falls back to two renames).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define MAX_PATH 4096

static int path_arg(napi_env env, napi_value v, char *buf) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, MAX_PATH, &len) != napi_ok) return 0;
  return len < MAX_PATH - 1;
}

static napi_value exchange(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  char a[MAX_PATH], b[MAX_PATH];
  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc < 2 || !path_arg(env, args[0], a) || !path_arg(env, args[1], b)) {
    napi_throw_type_error(env, NULL, "exchange(a, b) takes two paths shorter than 4096 bytes");
    return NULL;
  }
#ifdef SYS_renameat2
  if (syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0) return NULL;
  int e = errno;
#else
  int e = ENOSYS;
#endif
  const char *name = strerrorname_np(e);
  char text[2 * MAX_PATH + 128];
  snprintf(text, sizeof text, "%s: %s, exchange '%s' and '%s'", name ? name : "EIO", strerror(e), a, b);
  napi_value code, message, err;
  napi_create_string_utf8(env, name ? name : "EIO", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &err);
  napi_throw(env, err);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "exchange", NAPI_AUTO_LENGTH, exchange, NULL, &fn);
  napi_set_named_property(env, exports, "exchange", fn);
  return exports;
}
