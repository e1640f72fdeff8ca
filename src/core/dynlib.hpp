// Libraries loaded when first needed instead of linked: libpq (PostgreSQL stores) and libcurl
// (MTA-STS policy fetches) pull in 20-odd more shared objects each, whose loading every
// `ostls probe` would otherwise pay at start-up without using them.
#pragma once

#include <dlfcn.h>

#include <string>

namespace ostls::dynlib {

// dlopen(soname) for the life of the process; nullptr and `why` when it cannot be loaded.
inline void* open(const char* soname, std::string& why) {
  void* lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* e = dlerror();
    why = e ? e : "dlopen failed";
  }
  return lib;
}

// Sets `fn` to the symbol `name` of `lib`; false when the library lacks it.
template <class F>
bool resolve(void* lib, const char* name, F& fn) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  return fn != nullptr;
}

}  // namespace ostls::dynlib
