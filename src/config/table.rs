//! The declarative key table (`config_table!`): one list of keys generates a daemon's config
//! struct, its defaults, the setter the loader calls and the `KeyDoc` table its man page is
//! made from.

/// Generates, from one list of keys, a daemon's config struct (one documented field per key,
/// plus `conf_dir`), its `defaults` and `load`, the `KeyDoc` table, and the setter the generic
/// loader calls. Each key reads
/// `name: Type = default_expr, shown "default as a user sees it" [, check fn], "doc";`
/// where `check` is a `fn(Type) -> Result<Type, String>` that validates or normalizes.
macro_rules! config_table {
    (
        $(#[doc = $struct_doc:literal])*
        pub struct $Config:ident in $file:literal, documented by $KEYS:ident,
            finished by $finish:path, module options by $module_option:path;
        $(
            $key:ident : $ty:ty = $default:expr, shown $shown:literal
                $(, check $check:path)?, $doc:literal;
        )*
    ) => {
        $(#[doc = $struct_doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $Config {
            $(
                #[doc = concat!($doc, " Default: `", $shown, "`.")]
                pub $key: $ty,
            )*
            /// The configuration directory (`-c DIR`); set by the loader, not a key.
            pub conf_dir: PathBuf,
            /// Keys that are not in the table but that execution modules read (`smtp.*` and
            /// profiles of them), kept as they were read, in file order.
            pub module_options: serde_json::Map<String, Value>,
        }

        #[doc = concat!("Every key of `", $file, "`, with its default and what it does.")]
        pub const $KEYS: &[KeyDoc] = &[
            $( KeyDoc { name: stringify!($key), default: $shown, doc: $doc }, )*
        ];

        impl $Config {
            /// Defaults, as if DIR held no files.
            pub fn defaults(conf_dir: &Path) -> $Config {
                $Config {
                    $( $key: $default, )*
                    conf_dir: conf_dir.to_path_buf(),
                    module_options: serde_json::Map::new(),
                }
            }

            /// Every key with its value (`config.values`, the reactor's `opts`).
            pub fn values(&self) -> serde_json::Map<String, Value> {
                let mut m = serde_json::Map::new();
                $(
                    m.insert(
                        stringify!($key).to_owned(),
                        serde_json::to_value(&self.$key).unwrap_or(Value::Null),
                    );
                )*
                m
            }

            #[doc = concat!("Read `DIR/", $file, "` then `DIR/", $file,
                ".d/*.conf` in name order, later files overriding earlier keys one by one.")]
            pub fn load(conf_dir: &Path) -> Result<($Config, Vec<ConfigWarning>), ConfigError> {
                load_table::<$Config>(conf_dir)
            }

            /// Keys whose shown default does not read back as the default (tests only).
            #[cfg(test)]
            pub(super) fn shown_default_mismatches() -> Vec<&'static str> {
                let defaults = $Config::defaults(Path::new("/etc/brine"));
                let mut bad = Vec::new();
                $(
                    if !shown_default_matches::<$ty>(&defaults.$key, $shown) {
                        bad.push(stringify!($key));
                    }
                )*
                bad
            }
        }

        impl Table for $Config {
            const FILE: &'static str = $file;

            fn defaults(conf_dir: &Path) -> Self {
                $Config::defaults(conf_dir)
            }

            fn set(&mut self, key: &str, value: Value) -> Option<Result<(), String>> {
                match key {
                    $(
                        stringify!($key) => Some(
                            <$ty as FromValue>::from_value(value)
                                $( .and_then($check) )?
                                .map(|v| self.$key = v),
                        ),
                    )*
                    _ if $module_option(key, &value) => {
                        self.module_options.insert(key.to_owned(), value);
                        Some(Ok(()))
                    }
                    _ => None,
                }
            }

            fn finish(&mut self) {
                $finish(self)
            }
        }
    };
}
