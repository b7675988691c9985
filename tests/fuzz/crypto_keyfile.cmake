cg_fuzz(crypto_keyfile SOURCES ${CMAKE_CURRENT_LIST_DIR}/crypto_keyfile.cc DEPS cg_crypto)
