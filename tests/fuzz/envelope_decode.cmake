cg_fuzz(envelope_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/envelope_decode.cc DEPS cg_envelope)
