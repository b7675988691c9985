# Strict warnings and hardening for cellgate's own code (STYLE.md habit 14).
# Applied per target through cg_strict(); third-party and generated code is exempt.

set(CG_WARNINGS
  -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wimplicit-fallthrough -Wnon-virtual-dtor
  -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND CG_WARNINGS -Wthread-safety)
endif()

set(CG_HARDENING -fstack-protector-strong -fno-strict-overflow)
set(CG_HARDENING_LINK -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

if(CG_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CG_FUZZ needs clang (libFuzzer)")
  endif()
  set(CG_SANITIZE ON)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(CG_SANITIZE AND CG_TSAN)
  message(FATAL_ERROR "CG_SANITIZE and CG_TSAN are exclusive")
endif()
if(CG_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
elseif(CG_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
else()
  # _FORTIFY_SOURCE needs optimisation and fights with ASan; only in plain builds.
  add_compile_definitions($<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
endif()

function(cg_strict target)
  target_compile_options(${target} PRIVATE ${CG_WARNINGS} ${CG_HARDENING})
  target_link_options(${target} PRIVATE ${CG_HARDENING_LINK})
endfunction()
