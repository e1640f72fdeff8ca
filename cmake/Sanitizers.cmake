# ASan + UBSan for the whole build (tests included) when OSTLS_SANITIZE=ON.
if(OSTLS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
