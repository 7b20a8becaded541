# cmake -DIN=file -DOUT=file.c -P config_embed.cmake
# Turns the default YAML config into a C array (hex bytes, so no escaping can go wrong).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR nbytes "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT}.tmp "/* Generated from ${IN} by config_embed.cmake: do not edit. */\n"
  "extern const char gd__default_config_yaml[];\n"
  "extern const unsigned long gd__default_config_yaml_len;\n"
  "const char gd__default_config_yaml[] = {\n${body}0x00};\n"
  "const unsigned long gd__default_config_yaml_len = ${nbytes};\n")
file(RENAME ${OUT}.tmp ${OUT})
