"""Assignment 2, "Layer roles": profile every layer, label its role and each head's pattern.

Chapter: book/roles.md. Written by `course_notebooks.build("02_layer_roles")`.
"""

from course_notebooks import answer, explore, markdown, readonly, tests, written


def cells():
    return [
        markdown('''
        # Assignment 2: layer roles

        *About 35 minutes, after the chapter "Layer roles".*

        You profile every layer of the model over a small corpus of reviews, give each layer a
        role by the rules of the chapter, and label each head with one of Kovaleva et al.'s
        patterns. Your functions are graded against bertlab's measurement (`bertlab.roles`) on
        this corpus and, by hidden tests, on texts you never see.

        | part | what you write | points |
        |---|---|---|
        | 1 | `text_profile`: one row per layer of four signals | 4 |
        | 2 | `layer_role`: the role of a layer from its profile | 3 |
        | 3 | `head_pattern`: the pattern of a head from its measures | 3 |
        | 4 | a short written answer | 2 |

        **Tolerance.** Profiles must agree with bertlab's to within `TOLERANCE` = 1e-4 (float32
        rounding); labels must agree exactly, since both are computed from the same numbers.'''),
        readonly('''
        import math
        import os

        import pandas as pd
        import torch

        import bertlab
        from bertlab import course
        from bertlab.roles import (BLOCK_WITHIN, BROAD_ENTROPY, HEAD_PATTERNS, LAYER_ROLES,
                                   LEAD_MARGIN, MAJORITY, STRONG_SHARE)

        lm = bertlab.load(os.environ.get("BERTLAB_MODEL"))
        #: Largest difference allowed from bertlab's profile: float32 rounding (seen: about 1e-7).
        TOLERANCE = 1e-4
        PROFILE = ["local_share", "cls_share", "sep_share", "normalised_entropy"]

        CORPUS = bertlab.load_reviews("train").text.head(16).tolist()
        corpus_attention = bertlab.extract_batch(lm, CORPUS)    # one Attention per text, no padding
        heads = bertlab.head_measures(lm, CORPUS)               # one row per (layer, head)


        def corpus_profile(text_profile, attentions):
            """Mean of `text_profile` over texts, each text weighted equally: one row per layer."""
            tables = pd.concat([text_profile(att) for att in attentions])
            return tables.groupby("layer", as_index=False)[PROFILE].mean()


        def bertlab_profile(texts):
            """The reference: bertlab's layer profile of `texts` (one row per layer)."""
            return bertlab.layer_profile(bertlab.head_measures(lm, texts))[["layer", *PROFILE]]


        print(f"{len(CORPUS)} texts; {lm.n_layers} layers x {lm.n_heads} heads; "
              f"first text: {CORPUS[0]!r}")'''
                 , "setup"),
        markdown('''
        ## Part 1: a layer profile (4 points)

        `att = corpus_attention[0]` is a `bertlab.Attention`: `att.weights` is
        `[L, H, Q, K]` with no padding (every row sums to 1), and `att.cls_mask`, `att.sep_mask`
        are bool tensors over positions. For one query row `a = att.weights[l, h, i]`:

        * `local_share` = `a[i-1] + a[i] + a[i+1]` (a neighbour off the edge counts 0);
        * `cls_share`, `sep_share` = the sum of `a` over the [CLS] keys, over the [SEP] keys;
        * `normalised_entropy` = `-sum_j a[j] ln a[j]` divided by `ln n` (n = the text's tokens).

        A head's value is the mean over the text's query rows; a layer's value is the **mean over
        its heads of those head values**. Write `text_profile(att)` returning a DataFrame with
        one row per layer: a `layer` column (0-based) and the four columns in `PROFILE`.'''),
        readonly('''
        HINTS = {
            "local_share": "the token itself and both neighbours, |i - j| <= 1",
            "cls_share": "the sum over the [CLS] keys (att.cls_mask)",
            "sep_share": "the sum over the [SEP] keys (att.sep_mask)",
            "normalised_entropy": "each head's row entropies (0 ln 0 = 0), averaged, divided by ln "
                                  "n, then averaged over heads: average entropies, not maps",
        }


        def check_text_profile(text_profile, texts=CORPUS):
            """The checks of Part 1; the hidden tests call it on other texts."""
            attentions = corpus_attention if texts is CORPUS else bertlab.extract_batch(lm, texts)
            one = text_profile(attentions[0])
            assert isinstance(one, pd.DataFrame), f"Return a DataFrame, not {type(one).__name__}."
            missing = [c for c in ["layer", *PROFILE] if c not in one.columns]
            assert not missing, f"The profile lacks the columns {missing}."
            assert one["layer"].tolist() == list(range(lm.n_layers)), (
                f"Expected one row per layer, numbered 0 to {lm.n_layers - 1}; got layers "
                f"{one['layer'].tolist()}.")
            mine = corpus_profile(text_profile, attentions)
            expected = bertlab_profile(texts)
            for column in PROFILE:
                gap = (mine[column] - expected[column]).abs()
                assert gap.max() <= TOLERANCE, (
                    f"{column} differs from bertlab's by up to {gap.max():.4f} (worst in layer "
                    f"{int(gap.idxmax())}): {HINTS[column]}.")'''
                 , "checks_profile"),
        answer('''
        def text_profile(att):
            """One row per layer of one text: layer, then the PROFILE signals (mean over heads)."""
            ### BEGIN SOLUTION
            weights = att.weights                                                 # [L, H, Q, K]
            positions = torch.arange(att.n_tokens)
            band = (positions[:, None] - positions[None, :]).abs() <= 1           # [Q, K]
            rows = torch.stack([
                (weights * band).sum(dim=-1),                                     # [L, H, Q]
                weights[..., att.cls_mask].sum(dim=-1),
                weights[..., att.sep_mask].sum(dim=-1),
                -torch.special.xlogy(weights, weights).sum(dim=-1) / math.log(att.n_tokens),
            ], dim=-1)                                                            # [L, H, Q, 4]
            per_layer = rows.mean(dim=2).mean(dim=1)                              # [L, 4]
            table = pd.DataFrame(per_layer.double().numpy(), columns=PROFILE)
            table.insert(0, "layer", range(att.n_layers))
            return table
            ### END SOLUTION''', "text_profile"),
        tests('''
        check_text_profile(text_profile)
        ### BEGIN HIDDEN TESTS
        check_text_profile(text_profile, texts=bertlab.load_reviews("test").text.tail(8).tolist())
        ### END HIDDEN TESTS''', "test_text_profile", points=4),
        markdown('''
        ## Part 2: the role of a layer (3 points)

        The chapter's rules, checked in order, on one row of a profile:

        1. Of `local_share`, `cls_share` and `sep_share`, the largest names the role (`"local"`,
           `"cls-aggregating"`, `"sep/boundary"`) when it is at least `STRONG_SHARE` **and**
           leads the second largest by at least `LEAD_MARGIN`;
        2. otherwise the layer is `"broad"` when `normalised_entropy >= BROAD_ENTROPY`;
        3. otherwise it is `"mixed"`.

        Write `layer_role(row)`: `row` is a pandas Series (one row of a profile); return the role
        as a string, one of `LAYER_ROLES`.'''),
        readonly('''
        def layer_cases():
            """Hand-made profile rows and their roles, around the thresholds."""
            strong, lead, broad = STRONG_SHARE, LEAD_MARGIN, BROAD_ENTROPY
            quiet = dict(local_share=0.05, cls_share=0.05, sep_share=0.05, normalised_entropy=0.2)
            return [
                ({**quiet, "local_share": strong + 0.2}, "local", "local share strong and leading"),
                ({**quiet, "cls_share": strong + 0.3}, "cls-aggregating", "[CLS] share strong, leading"),
                ({**quiet, "sep_share": strong + 0.1}, "sep/boundary", "[SEP] share strong, leading"),
                ({**quiet, "local_share": strong + 0.05, "cls_share": strong + 0.05 - lead / 2,
                  "normalised_entropy": broad + 0.1}, "broad",
                 "the largest share leads by less than LEAD_MARGIN, and attention is spread"),
                ({**quiet, "cls_share": strong - 0.05}, "mixed",
                 "no share reaches STRONG_SHARE and attention is not spread"),
            ]


        def check_layer_role(layer_role, cases=None, texts=CORPUS):
            """The checks of Part 2; the hidden tests call it on other rows and texts."""
            for values, expected, why in cases or layer_cases():
                got = layer_role(pd.Series(values))
                assert got == expected, (f"A layer with {values} is {expected!r} ({why}); your "
                                         f"layer_role says {got!r}.")
            measured = bertlab.label_layers(bertlab_profile(texts))
            for _, row in measured.iterrows():
                got = layer_role(row.drop("role"))
                assert got == row["role"], (
                    f"Layer {int(row['layer'])} of the measured profile is {row['role']!r} by "
                    f"the rules; your layer_role says {got!r}. Its profile: "
                    f"{row[PROFILE].round(3).to_dict()}.")'''
                 , "checks_layer_role"),
        answer('''
        def layer_role(row):
            """The role of one layer (one of LAYER_ROLES) from its profile row."""
            ### BEGIN SOLUTION
            roles = {"local_share": "local", "cls_share": "cls-aggregating",
                     "sep_share": "sep/boundary"}
            shares = row[list(roles)].astype(float).sort_values(ascending=False)
            leader, runner_up = shares.iloc[0], shares.iloc[1]
            if leader >= STRONG_SHARE and leader - runner_up >= LEAD_MARGIN:
                return roles[shares.index[0]]
            return "broad" if row["normalised_entropy"] >= BROAD_ENTROPY else "mixed"
            ### END SOLUTION''', "layer_role"),
        tests('''
        check_layer_role(layer_role)
        ### BEGIN HIDDEN TESTS
        _quiet = dict(local_share=0.1, cls_share=0.1, sep_share=0.1, normalised_entropy=0.4)
        check_layer_role(layer_role, texts=["Absolutely wonderful, thank you!", "Cold food.",
                                            "The battery lasts two days; the screen is dim."],
                         cases=[
            ({**_quiet, "sep_share": STRONG_SHARE + 0.02, "local_share": STRONG_SHARE - 0.1},
             "sep/boundary", "[SEP] strong and leading by more than the margin"),
            ({**_quiet, "cls_share": STRONG_SHARE + 0.2, "sep_share": STRONG_SHARE + 0.15,
              "normalised_entropy": BROAD_ENTROPY - 0.1}, "mixed", "no clear lead, not spread"),
            ({**_quiet, "normalised_entropy": BROAD_ENTROPY + 0.05}, "broad", "spread"),
        ])
        ### END HIDDEN TESTS''', "test_layer_role", points=3),
        markdown('''
        ## Part 3: the pattern of a head (3 points)

        `heads` (made in the set-up) has one row per (layer, head) with bertlab's measures:
        `local_share` (the band `|i - j| <= 1`), `column_share` ([CLS], [SEP] and punctuation
        keys outside the band: vertical stripes), `far_share` (everything else),
        `far_within_share` (on sentence pairs, the part of the far share that stays in the
        query's own sentence; NaN for single sentences) and `normalised_entropy`. Kovaleva et
        al.'s patterns, by the chapter's rules checked in order:

        1. `"block"`: `far_share >= MAJORITY` and `far_within_share >= BLOCK_WITHIN`;
        2. `"heterogeneous"`: `normalised_entropy >= BROAD_ENTROPY`;
        3. `"vertical"`: `column_share >= MAJORITY`;
        4. `"diagonal"`: `local_share >= MAJORITY`;
        5. `"vertical+diagonal"`: `column_share + local_share >= MAJORITY`;
        6. `"heterogeneous"` otherwise.

        Write `head_pattern(row)` returning one of `HEAD_PATTERNS`.'''),
        readonly('''
        def head_cases():
            """Hand-made head rows and their patterns."""
            base = dict(local_share=0.2, column_share=0.2, far_share=0.6, far_within_share=math.nan,
                        normalised_entropy=BROAD_ENTROPY - 0.2)
            return [
                ({**base, "far_within_share": BLOCK_WITHIN + 0.1}, "block", "far and within"),
                ({**base, "column_share": MAJORITY + 0.2, "local_share": 0.1, "far_share": 0.2,
                  "normalised_entropy": BROAD_ENTROPY + 0.05}, "heterogeneous",
                 "spread attention is checked before the stripes"),
                ({**base, "column_share": MAJORITY + 0.3, "local_share": 0.1, "far_share": 0.1},
                 "vertical", "a majority on the columns"),
                ({**base, "local_share": MAJORITY + 0.3, "column_share": 0.1, "far_share": 0.1},
                 "diagonal", "a majority on the band"),
                ({**base, "local_share": 0.3, "column_share": 0.3, "far_share": 0.4},
                 "vertical+diagonal", "columns and band together hold a majority"),
                (base, "heterogeneous", "far attention on a single sentence (NaN within) is no block"),
            ]


        def check_head_pattern(head_pattern, cases=None, table=heads):
            """The checks of Part 3; the hidden tests call it on other rows and texts."""
            for values, expected, why in cases or head_cases():
                got = head_pattern(pd.Series(values))
                assert got == expected, (f"A head with {values} is {expected!r} ({why}); your "
                                         f"head_pattern says {got!r}. Check the rules in order.")
            for _, row in bertlab.label_heads(table).iterrows():
                got = head_pattern(row.drop("pattern"))
                assert got == row["pattern"], (
                    f"Head {int(row['head'])} of layer {int(row['layer'])} is {row['pattern']!r} by "
                    f"the rules; your head_pattern says {got!r}.")'''
                 , "checks_head_pattern"),
        answer('''
        def head_pattern(row):
            """Kovaleva et al.'s pattern of one head (one of HEAD_PATTERNS) from its measures."""
            ### BEGIN SOLUTION
            # far_within_share is NaN on single sentences, and NaN >= x is False: no block there.
            if row["far_share"] >= MAJORITY and row["far_within_share"] >= BLOCK_WITHIN:
                return "block"
            if row["normalised_entropy"] >= BROAD_ENTROPY:
                return "heterogeneous"
            if row["column_share"] >= MAJORITY:
                return "vertical"
            if row["local_share"] >= MAJORITY:
                return "diagonal"
            if row["column_share"] + row["local_share"] >= MAJORITY:
                return "vertical+diagonal"
            return "heterogeneous"
            ### END SOLUTION''', "head_pattern"),
        tests('''
        check_head_pattern(head_pattern)
        ### BEGIN HIDDEN TESTS
        _pairs = bertlab.load_pairs("test").head(6)
        check_head_pattern(head_pattern, table=bertlab.head_measures(
            lm, _pairs.text.tolist(), _pairs.text_pair.tolist()), cases=[
            (dict(local_share=0.1, column_share=0.1, far_share=0.8, far_within_share=BLOCK_WITHIN - 0.2,
                  normalised_entropy=BROAD_ENTROPY + 0.1), "heterogeneous", "far but crossing, spread"),
            (dict(local_share=0.45, column_share=0.45, far_share=0.1, far_within_share=math.nan,
                  normalised_entropy=0.3), "vertical+diagonal", "together a majority"),
        ])
        ### END HIDDEN TESTS''', "test_head_pattern", points=3),
        markdown('''
        ## Part 4: what the roles say (2 points, graded by hand)

        Run the cell below (change it freely; it is not graded). Then answer in 3–5 sentences,
        quoting your table: which role does each part of the stack (bottom, middle, top) play in
        this model, which head patterns dominate, and where does this agree or disagree with the
        seed's claim C7 (diagonal at the bottom, [CLS] in the middle) and with Clark et al.
        (2019), who found [SEP] dominating BERT-base's middle layers?'''),
        explore('''
        # Explore (not graded): your profile and roles, and the head patterns per layer.
        profile = corpus_profile(text_profile, corpus_attention)
        profile["role"] = [layer_role(row) for _, row in profile.iterrows()]
        patterns = heads.assign(pattern=[head_pattern(row) for _, row in heads.iterrows()])
        print(profile.round(3).to_string(index=False))
        print(pd.crosstab(patterns["layer"], patterns["pattern"]))'''),
        written('''
        **Rubric (2 points).** 1 point: describes the roles *from the printed table*, by
        position in the stack (on all-MiniLM-L6-v2 the first layer is broad and every later
        layer is [CLS]-aggregating; no layer is local or [SEP]-dominated on these reviews), and
        names the dominant head patterns (vertical and vertical+diagonal). 1 point: compares
        with the literature correctly: C7's [CLS] middle holds here, its diagonal bottom does
        not (the bottom layer is broad); Clark et al.'s [SEP] middle is not seen on single
        sentences of this model, where [CLS] plays that part (different model, different
        inputs: single reviews have one [SEP]).''', "written_answer", points=2),
        markdown('''
        ## Self-check

        Runs the visible checks of every part and prints what passes; the grade comes from the
        test cells, which add hidden tests on other texts.'''),
        readonly('''
        course.self_check({
            "Part 1, text_profile": lambda: check_text_profile(text_profile),
            "Part 2, layer_role": lambda: check_layer_role(layer_role),
            "Part 3, head_pattern": lambda: check_head_pattern(head_pattern),
        });''', "self_check"),
    ]
