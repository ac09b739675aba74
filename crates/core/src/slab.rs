//! Generation-checked slots, so a stale handle never reaches a reused slot.

/// A slot array with a free list; keys carry the slot's generation.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

#[derive(Debug)]
pub(crate) struct Slot<T> {
    pub gen: u32,
    pub value: Option<T>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Inserts a value built from its (index, generation) key.
    pub fn insert_with(&mut self, make: impl FnOnce(u32, u32) -> T) -> (u32, u32) {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    gen: 0,
                    value: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.gen = slot.gen.wrapping_add(1);
        slot.value = Some(make(index, slot.gen));
        self.len += 1;
        (index, slot.gen)
    }

    pub fn get(&self, index: u32, gen: u32) -> Option<&T> {
        self.slots
            .get(index as usize)
            .filter(|s| s.gen == gen)
            .and_then(|s| s.value.as_ref())
    }

    pub fn get_mut(&mut self, index: u32, gen: u32) -> Option<&mut T> {
        self.slots
            .get_mut(index as usize)
            .filter(|s| s.gen == gen)
            .and_then(|s| s.value.as_mut())
    }

    pub fn remove(&mut self, index: u32, gen: u32) -> Option<T> {
        let slot = self
            .slots
            .get_mut(index as usize)
            .filter(|s| s.gen == gen)?;
        let value = slot.value.take()?;
        self.free.push(index);
        self.len -= 1;
        Some(value)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.value.as_ref().map(|v| (i as u32, s.gen, v)))
    }
}
