//! Per-tensor optimizer states, declared once and recorded by every enabled burn version.
//!
//! [`optimizer_state!`] declares a state struct generic over its tensor type `T` (burn 0.21's
//! `Tensor<B, D>` or burn 0.22's `Tensor<D>`), a `map_tensors` that rebuilds it with other
//! tensors (a device move, a record item), and has each enabled burn version's adapter
//! implement that version's record trait for it: burn 0.21's `Record` (the item is the same
//! struct over record items, so the saved fields keep their names) and burn 0.22's
//! `RecordState` (named tensor and scalar leaves for burnpack).
//!
//! Field kinds: `Tensor`, `OptionTensor`, `Scalar<ty>` (an integer or float kept as is) and
//! `Nested<State>` (an optional state of another optimizer, as Muon keeps AdamW's).

/// A state field of `kind` with every tensor passed through `f`.
macro_rules! map_field {
    (Tensor, $value:expr, $f:ident) => {
        $f($value)
    };
    (OptionTensor, $value:expr, $f:ident) => {
        $value.map(&mut *$f)
    };
    (Scalar, $value:expr, $f:ident) => {
        $value
    };
    (Nested, $value:expr, $f:ident) => {
        $value.map(|state| state.map_tensors($f))
    };
}
pub(crate) use map_field;

/// Declare an optimizer's per-tensor state (see the module docs).
macro_rules! optimizer_state {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident : $kind:ident $(<$inner:ident>)?
            ),* $(,)?
        }
    ) => {
        $crate::state::optimizer_state!(
            @fields [$(#[$meta])*] $name []
            $( [$(#[$field_meta])*] $field $kind $(<$inner>)? ; )*
        );

        impl<T> $name<T> {
            /// The same state with every tensor passed through `f` (a device move, a
            /// conversion to or from a record item).
            pub fn map_tensors<U>(self, f: &mut impl FnMut(T) -> U) -> $name<U> {
                $name {
                    $( $field: $crate::state::map_field!($kind, self.$field, f), )*
                }
            }
        }

        #[cfg(feature = "burn-0-21")]
        $crate::burn_0_21::impl_record!($name);

        #[cfg(feature = "burn-0-22")]
        $crate::burn_0_22::impl_record_state!($name { $( $field : $kind $(<$inner>)? ),* });
    };

    // Each field's kind becomes its type, one at a time (derives cannot see through a macro
    // in type position).
    (@fields $meta:tt $name:ident [$($done:tt)*] [$($attr:tt)*] $field:ident Tensor ; $($rest:tt)*) => {
        $crate::state::optimizer_state!(
            @fields $meta $name [$($done)* $($attr)* pub $field: T,] $($rest)*
        );
    };
    (@fields $meta:tt $name:ident [$($done:tt)*] [$($attr:tt)*] $field:ident OptionTensor ; $($rest:tt)*) => {
        $crate::state::optimizer_state!(
            @fields $meta $name [$($done)* $($attr)* pub $field: Option<T>,] $($rest)*
        );
    };
    (@fields $meta:tt $name:ident [$($done:tt)*] [$($attr:tt)*] $field:ident Scalar<$scalar:ident> ; $($rest:tt)*) => {
        $crate::state::optimizer_state!(
            @fields $meta $name [$($done)* $($attr)* pub $field: $scalar,] $($rest)*
        );
    };
    (@fields $meta:tt $name:ident [$($done:tt)*] [$($attr:tt)*] $field:ident Nested<$state:ident> ; $($rest:tt)*) => {
        $crate::state::optimizer_state!(
            @fields $meta $name [$($done)* $($attr)* pub $field: Option<$state<T>>,] $($rest)*
        );
    };
    (@fields [$($meta:tt)*] $name:ident [$($done:tt)*]) => {
        $($meta)*
        #[derive(Clone, Debug, burn::serde::Serialize, burn::serde::Deserialize)]
        #[serde(crate = "burn::serde")]
        pub struct $name<T> {
            $($done)*
        }
    };
}
pub(crate) use optimizer_state;
